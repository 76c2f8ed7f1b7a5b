// The gateway in front of @modelcontextprotocol/server-everything (which
// serves /mcp and answers over SSE) behind /ev with `prefix_rewrite: /mcp`,
// with rules on tools, prompts and resources. The official SDK client with
// dev tokens of different scopes sees tools/list, prompts/list,
// resources/list and resources/templates/list filtered to what its token
// may use; prompts/get and resources/read (and resources/subscribe) are
// refused with a plain 403 for a `deny` rule and with a step-up challenge
// naming the missing scope otherwise, and served once the token has it. A
// second route to the same server refuses prompts/get and needs a scope
// for resources/read through `methods:`: without them the prompt, resource
// and template lists are empty while tools/list is untouched.
// completion/complete follows the rules of the prompt or template it
// completes. The admin listener's /config_dump shows every rule as
// configured, and `doctor` reaches server-everything with an MCP initialize
// through /ev's rewritten path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { DEV_JWKS, DEV_PRIVATE_KEY, GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { startEverything } from './lib/everything.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest } from './lib/net.mjs';
import { runToCompletion, stopAll, withLogs } from './lib/processes.mjs';
import { connectWithBearer } from './lib/sdk_client.mjs';
import { devToken } from './lib/tokens.mjs';

const ISSUER = 'https://dev-issuer.example';
const DOCS = 'demo://resource/static/document';
const TEXT_TEMPLATE = 'demo://resource/dynamic/text/{resourceId}';
const BLOB_TEMPLATE = 'demo://resource/dynamic/blob/{resourceId}';

const EV_AUTH = {
  providers: ['dev'],
  scopes: ['mcp:ev'],
  tools: { 'get-env': 'deny', 'get-sum': ['tools:sum'] },
  prompts: { 'simple-prompt': ['prompts:simple'], 'args-prompt': 'deny' },
  resources: {
    [`${DOCS}/*`]: ['res:docs'],
    [`${DOCS}/architecture.md`]: 'deny', // exact beats the pattern
    [`${DOCS}/features.md`]: [], // open without res:docs
    'demo://resource/dynamic/blob/*': ['res:blob'],
  },
};

const STRICT_AUTH = {
  providers: ['dev'],
  scopes: ['mcp:ev'],
  methods: { 'prompts/get': 'deny', 'resources/read': ['res:read'] },
};

const connect = (url, token) => connectWithBearer(url, token, 'front-everything-test');

async function lists(client) {
  return {
    tools: (await client.listTools()).tools.map((t) => t.name).sort(),
    prompts: (await client.listPrompts()).prompts.map((p) => p.name).sort(),
    resources: (await client.listResources()).resources.map((r) => r.uri).sort(),
    templates: (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort(),
  };
}

describe('server-everything behind /ev: lists follow the rules', () => {
  let tmp;
  let origin;
  let upstream; // what server-everything lists to anyone, read directly
  let adminOrigin;
  let configPath;

  before(async () => {
    tmp = await makeTempDir();
    const everything = await startEverything();
    const direct = new Client({ name: 'front-everything-baseline', version: '1.0.0' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(everything.url)));
    try {
      upstream = await lists(direct);
    } finally {
      await direct.close();
    }
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    adminOrigin = `http://127.0.0.1:${await freePort()}`;
    const route = (prefix, auth) => ({ path_prefix: prefix, prefix_rewrite: '/mcp', upstream: 'everything', resource: `${origin}${prefix}`, auth });
    ({ configPath } = await launchGateway(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: adminOrigin.slice('http://'.length) },
      providers: { dev: { issuer: ISSUER, jwks_file: requireFile(DEV_JWKS, 'dev JWKS'), algorithms: ['RS256', 'ES256'] } },
      upstreams: { everything: { url: everything.origin } },
      routes: [route('/ev', EV_AUTH), route('/ev-strict', STRICT_AUTH)],
    }));
  });

  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  const token = (prefix, scope) =>
    devToken({ keyFile: requireFile(DEV_PRIVATE_KEY, 'dev signing key'), iss: ISSUER, aud: `${origin}${prefix}`, scope });

  // A POST of one JSON-RPC request through /ev without a session: the
  // gateway answers a refusal before the upstream (which would want a
  // session) sees it.
  async function post(prefix, scope, method, params) {
    const t = await token(prefix, scope);
    return httpRequest(`${origin}${prefix}`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method, params }),
    });
  }

  const assertDenied = (res, what) => {
    assert.equal(res.status, 403, res.body);
    assert.equal(res.headers['www-authenticate'], undefined, 'a deny rule sends no challenge');
    assert.deepEqual(JSON.parse(res.body), { error: 'forbidden', error_description: `${what} is not allowed on this route` });
  };

  const assertStepUp = (res, what, scope, challenged) => {
    assert.equal(res.status, 403, res.body);
    const params = extractWWWAuthenticateParams(new Response(null, { status: 403, headers: { 'www-authenticate': res.headers['www-authenticate'] } }));
    assert.equal(params.error, 'insufficient_scope');
    assert.equal(params.scope, challenged);
    assert.equal(params.resourceMetadataUrl?.href, `${origin}/.well-known/oauth-protected-resource/ev`);
    assert.equal(JSON.parse(res.body).error_description, `${what} requires scope ${scope}`);
  };

  test('the upstream lists what the rules name (baseline, directly)', withLogs(async () => {
    for (const name of ['get-env', 'get-sum', 'echo']) assert.ok(upstream.tools.includes(name), `${name} in ${upstream.tools}`);
    for (const name of ['simple-prompt', 'args-prompt', 'completable-prompt', 'resource-prompt']) {
      assert.ok(upstream.prompts.includes(name), `${name} in ${upstream.prompts}`);
    }
    for (const doc of ['architecture.md', 'features.md', 'startup.md']) {
      assert.ok(upstream.resources.includes(`${DOCS}/${doc}`), `${doc} in ${upstream.resources}`);
    }
    assert.deepEqual(upstream.templates, [BLOB_TEMPLATE, TEXT_TEMPLATE]);
  }));

  test('a token with the route scope only sees what needs no other scope', withLogs(async () => {
    const client = await connect(`${origin}/ev`, await token('/ev', 'mcp:ev'));
    try {
      const seen = await lists(client);
      assert.deepEqual(seen.tools, upstream.tools.filter((n) => n !== 'get-env' && n !== 'get-sum'));
      assert.deepEqual(seen.prompts, ['completable-prompt', 'resource-prompt']);
      assert.deepEqual(seen.resources, [`${DOCS}/features.md`]);
      assert.deepEqual(seen.templates, [TEXT_TEMPLATE]);
      // What it lists, it may use.
      const prompt = await client.getPrompt({ name: 'completable-prompt', arguments: { department: 'Sales', name: 'Ada' } });
      assert.match(prompt.messages[0].content.text, /Ada/);
      const features = await client.readResource({ uri: `${DOCS}/features.md` });
      assert.equal(features.contents[0].uri, `${DOCS}/features.md`);
      const text = await client.readResource({ uri: 'demo://resource/dynamic/text/1' });
      assert.match(text.contents[0].text, /^Resource 1:/);
      // What it does not list is refused with the body naming the rule.
      await assert.rejects(client.getPrompt({ name: 'simple-prompt' }), /insufficient_scope.*prompt 'simple-prompt' requires scope prompts:simple/);
      await assert.rejects(client.getPrompt({ name: 'args-prompt', arguments: { city: 'Oslo' } }), /"error":"forbidden"/);
      await assert.rejects(client.readResource({ uri: `${DOCS}/startup.md` }), /insufficient_scope.*requires scope res:docs/);
      await assert.rejects(client.readResource({ uri: 'demo://resource/dynamic/blob/1' }), /insufficient_scope.*requires scope res:blob/);
    } finally {
      await client.close();
    }
  }));

  test('a token with every scope sees all but the deny rules, and may use what it sees', withLogs(async () => {
    const scope = 'mcp:ev tools:sum prompts:simple res:docs res:blob';
    const client = await connect(`${origin}/ev`, await token('/ev', scope));
    try {
      const seen = await lists(client);
      assert.deepEqual(seen.tools, upstream.tools.filter((n) => n !== 'get-env'));
      assert.deepEqual(seen.prompts, upstream.prompts.filter((n) => n !== 'args-prompt'));
      assert.deepEqual(seen.resources, upstream.resources.filter((u) => u !== `${DOCS}/architecture.md`));
      assert.deepEqual(seen.templates, upstream.templates);
      const prompt = await client.getPrompt({ name: 'simple-prompt' });
      assert.equal(prompt.messages[0].content.text, 'This is a simple prompt without arguments.');
      const startup = await client.readResource({ uri: `${DOCS}/startup.md` });
      assert.equal(startup.contents[0].uri, `${DOCS}/startup.md`);
      const blob = await client.readResource({ uri: 'demo://resource/dynamic/blob/2' });
      assert.equal(blob.contents[0].uri, 'demo://resource/dynamic/blob/2');
      const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      assert.match(sum.content[0].text, /5/);
      await assert.rejects(client.readResource({ uri: `${DOCS}/architecture.md` }), /"error":"forbidden"/);
      await assert.rejects(client.getPrompt({ name: 'args-prompt', arguments: { city: 'Oslo' } }), /"error":"forbidden"/);
    } finally {
      await client.close();
    }
  }));

  test('deny rules answer a plain 403; missing scopes the step-up challenge naming them', withLogs(async () => {
    assertDenied(await post('/ev', 'mcp:ev prompts:simple', 'prompts/get', { name: 'args-prompt' }), "prompt 'args-prompt'");
    assertDenied(await post('/ev', 'mcp:ev res:docs', 'resources/read', { uri: `${DOCS}/architecture.md` }), `resource '${DOCS}/architecture.md'`);
    assertDenied(await post('/ev', 'mcp:ev res:docs', 'resources/subscribe', { uri: `${DOCS}/architecture.md` }), `resource '${DOCS}/architecture.md'`);
    assertStepUp(await post('/ev', 'mcp:ev', 'prompts/get', { name: 'simple-prompt' }), "prompt 'simple-prompt'", 'prompts:simple', 'mcp:ev prompts:simple');
    // The token's other scopes of this route stay in the challenge.
    assertStepUp(
      await post('/ev', 'mcp:ev res:blob', 'resources/read', { uri: `${DOCS}/startup.md` }),
      `resource '${DOCS}/startup.md'`,
      'res:docs',
      'mcp:ev res:docs res:blob',
    );
    assertStepUp(
      await post('/ev', 'mcp:ev', 'resources/read', { uri: 'demo://resource/dynamic/blob/7' }),
      "resource 'demo://resource/dynamic/blob/7'",
      'res:blob',
      'mcp:ev res:blob',
    );
    // Without the name or URI a rule reads: refused, never forwarded.
    for (const [method, params] of [['prompts/get', {}], ['resources/read', { uri: 7 }], ['resources/subscribe', undefined]]) {
      const res = await post('/ev', 'mcp:ev prompts:simple res:docs res:blob', method, params);
      assert.equal(res.status, 400, `${method}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, -32600);
    }
  }));

  test('methods: rules count: no prompts/get → no prompts listed; resources/read scope gates resources and templates', withLogs(async () => {
    const weak = await connect(`${origin}/ev-strict`, await token('/ev-strict', 'mcp:ev'));
    try {
      const seen = await lists(weak);
      assert.deepEqual(seen.tools, upstream.tools, 'tools/list has no rule here: unfiltered');
      assert.deepEqual(seen.prompts, []);
      assert.deepEqual(seen.resources, []);
      assert.deepEqual(seen.templates, []);
    } finally {
      await weak.close();
    }
    const reader = await connect(`${origin}/ev-strict`, await token('/ev-strict', 'mcp:ev res:read'));
    try {
      const seen = await lists(reader);
      assert.deepEqual(seen.prompts, []);
      assert.deepEqual(seen.resources, upstream.resources);
      assert.deepEqual(seen.templates, upstream.templates);
      await assert.rejects(reader.getPrompt({ name: 'simple-prompt' }), /"error":"forbidden"/);
    } finally {
      await reader.close();
    }
  }));

  test('completion/complete follows the rules of the prompt or template it completes', withLogs(async () => {
    const complete = (scope, ref, argument) => post('/ev', scope, 'completion/complete', { ref, argument });
    assertDenied(await complete('mcp:ev', { type: 'ref/prompt', name: 'args-prompt' }, { name: 'city', value: 'O' }), "completion of prompt 'args-prompt'");
    assertStepUp(
      await complete('mcp:ev', { type: 'ref/prompt', name: 'simple-prompt' }, { name: 'x', value: '' }),
      "completion of prompt 'simple-prompt'",
      'prompts:simple',
      'mcp:ev prompts:simple',
    );
    assertStepUp(
      await complete('mcp:ev', { type: 'ref/resource', uri: BLOB_TEMPLATE }, { name: 'resourceId', value: '1' }),
      `completion of resource template '${BLOB_TEMPLATE}'`,
      'res:blob',
      'mcp:ev res:blob',
    );
    const unknownRef = await complete('mcp:ev', { type: 'ref/tool', name: 'echo' }, { name: 'x', value: '' });
    assert.equal(unknownRef.status, 400, unknownRef.body);
    // Allowed: the upstream answers with the completions of the prompt's argument.
    const client = await connect(`${origin}/ev`, await token('/ev', 'mcp:ev'));
    try {
      const r = await client.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name: 'department', value: 'Eng' } });
      assert.deepEqual(r.completion.values, ['Engineering']);
    } finally {
      await client.close();
    }
  }));

  test('/config_dump shows every rule as configured, deny rules included', withLogs(async () => {
    const dump = await (await fetch(`${adminOrigin}/config_dump`)).json();
    const [ev, strict] = dump.routes;
    assert.equal(ev.path_prefix, '/ev');
    assert.equal(ev.prefix_rewrite, '/mcp');
    assert.equal(ev.auth.enabled, true);
    assert.deepEqual(ev.auth.scopes, EV_AUTH.scopes);
    assert.deepEqual(ev.auth.tools, EV_AUTH.tools);
    assert.deepEqual(ev.auth.prompts, EV_AUTH.prompts);
    assert.deepEqual(ev.auth.resources, EV_AUTH.resources);
    assert.deepEqual(ev.auth.methods, {});
    assert.deepEqual(strict.auth.methods, STRICT_AUTH.methods);
    assert.deepEqual(dump.admin.address, adminOrigin.slice('http://'.length));
  }));

  test("doctor reaches server-everything with an MCP initialize through /ev's rewritten path", withLogs(async () => {
    const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', configPath, '--json'], { timeoutMs: 30000 });
    const report = JSON.parse(r.stdout);
    const upstreamChecks = report.findings.filter((f) => f.check === 'upstream.mcp');
    assert.deepEqual(upstreamChecks.map((f) => f.route).sort(), ['/ev', '/ev-strict'], r.stdout);
    for (const finding of upstreamChecks) {
      assert.equal(finding.severity, 'ok', JSON.stringify(finding));
      assert.match(finding.message, /\/mcp: MCP server mcp-servers\/everything/, finding.message);
    }
    assert.ok(report.findings.some((f) => f.check === 'as.file_key' && f.severity === 'info'), r.stdout);
    assert.equal(r.code, 0, r.stdout);
  }));
});
