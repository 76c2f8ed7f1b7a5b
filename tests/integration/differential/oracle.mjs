// The oracle of differential.test.mjs: from the gateway's config alone, may
// this principal have the reader execute what the reader read? And did the
// reader see only the identity and sessions the gateway gives that principal?
// It judges the reader's view, never the gateway's: a disagreement between
// the two is exactly what it exists to find.

// The rules of every route in the test's gateway config.
export const TOOL_RULES = new Map([['add', ['math:add']], ['secret', 'deny']]);
export const METHOD_RULES = new Map([['logging/setLevel', 'deny']]);
export const ROUTE_SCOPES = { scoped: ['mcp:access'], open: [] };

export function routeAuth(kind) {
  const auth = {
    providers: ['test'],
    tools: Object.fromEntries(TOOL_RULES),
    methods: Object.fromEntries(METHOD_RULES),
  };
  if (kind === 'open') auth.allow_missing = true;
  else auth.scopes = ROUTE_SCOPES.scoped;
  return auth;
}

export const ANONYMOUS = Object.freeze({ name: 'anonymous', sub: null, scopes: [] });

function satisfies(rule, scopes) {
  if (rule === undefined) return true;
  if (rule === 'deny') return false;
  return rule.every((s) => scopes.includes(s));
}

// Why this principal may not have `message` executed on a route of `kind`,
// or null when it may. A message whose method (or tools/call name) is not a
// string is no call a server executes.
export function refusal(principal, kind, message) {
  const { method, tool } = message;
  if (typeof method !== 'string') return null;
  if (kind === 'scoped' && principal === ANONYMOUS) return 'no token on a route that requires one';
  if (!satisfies(ROUTE_SCOPES[kind], principal.scopes)) return `route scopes ${ROUTE_SCOPES[kind]} missing`;
  if (!satisfies(METHOD_RULES.get(method), principal.scopes)) return `method '${method}' is ruled ${JSON.stringify(METHOD_RULES.get(method))}`;
  if (method === 'tools/call' && typeof tool === 'string' && !satisfies(TOOL_RULES.get(tool), principal.scopes)) {
    return `tool '${tool}' is ruled ${JSON.stringify(TOOL_RULES.get(tool))}`;
  }
  return null;
}

// Every violation in one reader record of a request sent as `sent`
// ({ principal, kind }); `owners` maps session ids to principal names.
export function violations(record, sent, owners) {
  const found = [];
  // MCP servers execute JSON-RPC from POST bodies only (a GET opens a
  // stream, a DELETE ends a session); a refused parse executes nothing.
  if (record.httpMethod === 'POST' && !record.parseError) {
    for (const m of record.messages ?? []) {
      const why = refusal(sent.principal, sent.kind, m);
      if (why) found.push(`executed method=${JSON.stringify(m.method)} tool=${JSON.stringify(m.tool)}: ${why}`);
    }
  }
  // The gateway refuses a body on any other method on these routes: such a
  // body would reach the server uninspected.
  if (record.httpMethod !== 'POST' && (record.bodyBytes > 0 || record.messages?.some((m) => typeof m.method === 'string'))) {
    found.push(`a ${record.httpMethod} body of ${record.bodyBytes} bytes reached the reader uninspected`);
  }
  const identity = record.identity;
  if (identity !== null && identity !== undefined && identity !== sent.principal.sub) {
    found.push(`saw identity X-MCP-Subject=${JSON.stringify(identity)}; the gateway sets ${JSON.stringify(sent.principal.sub)} for ${sent.principal.name}`);
  }
  if (typeof record.session === 'string') {
    for (const part of record.session.split(',').map((s) => s.trim())) {
      const owner = owners.get(part);
      if (owner !== undefined && owner !== sent.principal.name) {
        found.push(`saw Mcp-Session-Id ${JSON.stringify(record.session)}: ${part} belongs to ${owner}, not ${sent.principal.name}`);
      }
    }
  }
  return found;
}
