// The official TypeScript SDK client with an in-memory OAuthClientProvider,
// driven through the whole MCP authorization flow against a gateway whose
// authorization server is the dev idp (docker/idp). Shared by
// oauth_flow.test.mjs (processes on loopback) and tests/e2e (compose stack).
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { signInAsDevUser } from './dev_idp.mjs';

// Where the "browser" would be sent back; nothing listens there, the test
// reads the code off the redirect.
export const REDIRECT_URI = 'http://127.0.0.1:33418/oauth/callback';

// An in-memory OAuthClientProvider, as a CLI client would implement it. The
// "browser" is whoever reads `authorizationUrl` after redirectToAuthorization.
export class MemoryOAuthProvider {
  constructor() {
    this.saved = {};
    this.authorizationUrl = undefined;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: 'mcp-auth-gateway test client',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.saved.state = crypto.randomUUID();
    return this.saved.state;
  }
  clientInformation() {
    return this.saved.client;
  }
  saveClientInformation(info) {
    this.saved.client = info;
  }
  tokens() {
    return this.saved.tokens;
  }
  saveTokens(tokens) {
    this.saved.tokens = tokens;
  }
  redirectToAuthorization(url) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier) {
    this.saved.verifier = verifier;
  }
  codeVerifier() {
    return this.saved.verifier;
  }
}

// fetch for the SDK that records every request (method, url, status) in order.
export function recordingFetch(log) {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(String(input instanceof Request ? input.url : input));
    log.push({ method: init?.method ?? 'GET', url, status: res.status });
    return res;
  };
}

// Decodes a JWT's payload for inspection only (the gateway verifies it).
export function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// Asserts that `steps` ("METHOD host/path status", host 'idp' or 'gateway')
// occur in `requests` in this order.
export function assertRequestOrder(requests, issuer, steps) {
  const seen = requests.map((r) => `${r.method} ${r.url.origin === issuer ? 'idp' : 'gateway'}${r.url.pathname} ${r.status}`);
  let at = -1;
  for (const step of steps) {
    const next = seen.indexOf(step, at + 1);
    assert.ok(next > at, `"${step}" after position ${at} in ${JSON.stringify(seen, null, 1)}`);
    at = next;
  }
}

export function newClient() {
  return new Client({ name: 'mcp-auth-gateway-oauth-test', version: '1.0.0' });
}

// Steps 1-4 of the flow: the SDK meets a 401, discovers, registers and
// "redirects"; the dev user signs in and consents; the code becomes a token.
// Returns { provider, requests, authUrl, signIn, transport } with `transport`
// authorized and ready for client.connect().
export async function authorizeWithSdk(gatewayUrl, signInOptions) {
  const provider = new MemoryOAuthProvider();
  const requests = [];
  const fetchFn = recordingFetch(requests);
  const options = { authProvider: provider, fetch: fetchFn };

  await assert.rejects(newClient().connect(new StreamableHTTPClientTransport(new URL(gatewayUrl), options)), UnauthorizedError);
  const authUrl = provider.authorizationUrl;
  assert.ok(authUrl, 'the SDK called redirectToAuthorization');

  const signIn = await signInAsDevUser(authUrl, REDIRECT_URI, signInOptions);
  const transport = new StreamableHTTPClientTransport(new URL(gatewayUrl), options);
  await transport.finishAuth(signIn.code);
  return { provider, requests, authUrl, signIn, transport };
}

// Step 5: initialize, tools/list, add(2, 3) = 5 over an authorized transport.
export async function callAddThroughGateway(transport) {
  const client = newClient();
  try {
    await client.connect(transport);
    assert.ok(client.getServerVersion()?.name, 'initialize returned serverInfo');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'add'), `tools/list has add: ${JSON.stringify(tools)}`);
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
    assert.ok(result.content.some((c) => c.type === 'text' && c.text === '5'), JSON.stringify(result.content));
    return result;
  } finally {
    await client.close();
  }
}
