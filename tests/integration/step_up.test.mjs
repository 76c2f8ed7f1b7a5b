// MCP step-up authorization end to end, with real parts and no mock: the dev
// authorization server of docker/idp (oidc-provider, here also allowed to
// grant math:add), mcp-auth-gateway whose route needs mcp:tools on every
// request and math:add for tools/call of `add`, mcp-add-server, and the
// official TypeScript SDK client (1.32.x) with an OAuthClientProvider.
//
//   401 scope="mcp:tools" → token with mcp:tools → tools/list (add filtered
//   out) → tools/call add → 403 insufficient_scope scope="mcp:tools math:add"
//   → the SDK starts a new authorization request with exactly that scope →
//   the user signs in and consents again → token with math:add → add(2, 3) = 5
//
// What the SDK does on the 403 depends on whether it holds a refresh token:
//   - without one it sends the user to the authorization server with the
//     challenged scope (callTool rejects with UnauthorizedError, as for a
//     401); the application finishes the login and calls the tool again;
//   - with one it refreshes instead, which cannot add a scope (RFC 6749 §6),
//     retries once, meets the identical 403 and gives up with
//     "Server returned 403 after trying upscoping".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBackend } from './lib/backend.mjs';
import { DEV_USER, signInAsDevUser, startDevIdp } from './lib/dev_idp.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { MemoryOAuthProvider, REDIRECT_URI, jwtPayload, newClient } from './lib/oauth_client.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';

const ROUTE_SCOPE = 'mcp:tools';
const TOOL_SCOPE = 'math:add';

// A CLI-style client that registers without the refresh_token grant, so it
// never holds a refresh token and every new scope goes through the user.
class NoRefreshOAuthProvider extends MemoryOAuthProvider {
  get clientMetadata() {
    return { ...super.clientMetadata, grant_types: ['authorization_code'] };
  }
}

// fetch for the SDK that records every request ("METHOD origin-label path
// status") and the WWW-Authenticate header of every 403 it receives.
function watchingFetch(issuer) {
  const seen = { requests: [], challenges: [] };
  const fetchFn = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(String(input instanceof Request ? input.url : input));
    const host = url.origin === issuer ? 'idp' : 'gateway';
    seen.requests.push(`${init?.method ?? 'GET'} ${host}${url.pathname} ${res.status}`);
    if (res.status === 403) seen.challenges.push(res.headers.get('www-authenticate'));
    return res;
  };
  return { seen, fetchFn };
}

function scopesOf(accessToken) {
  return String(jwtPayload(accessToken ?? '..').scope ?? '').split(' ').filter(Boolean);
}

describe('step-up: SDK client, 403 insufficient_scope, re-authorization at the dev idp', () => {
  let tmp;
  let idp;
  let resource;
  let metadataUrl;

  before(async () => {
    tmp = await makeTempDir();
    const gatewayPort = await freePort();
    resource = `http://127.0.0.1:${gatewayPort}/mcp`;
    metadataUrl = `http://127.0.0.1:${gatewayPort}/.well-known/oauth-protected-resource/mcp`;
    idp = await startDevIdp({ resources: [resource], extraScopes: [TOOL_SCOPE] });
    const backend = await startBackend();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${gatewayPort}` }],
      providers: { idp: { issuer: idp.issuer, jwks_uri: idp.jwksUri, algorithms: ['RS256'] } },
      upstreams: { backend: { url: backend.origin } },
      routes: [
        {
          path_prefix: '/mcp',
          upstream: 'backend',
          resource,
          auth: { providers: ['idp'], scopes: [ROUTE_SCOPE], tools: { add: [TOOL_SCOPE] } },
        },
      ],
    });
    const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], {
      timeoutMs: 15000,
    });
    assert.equal(proc.port, gatewayPort);
  });

  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  test('the 401 asks for mcp:tools only; the metadata lists math:add as supported', { timeout: 20000 }, withLogs(async () => {
    const res = await httpRequest(resource, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], `Bearer resource_metadata="${metadataUrl}", scope="${ROUTE_SCOPE}"`);
    const prm = await (await fetch(metadataUrl)).json();
    assert.deepEqual(prm.scopes_supported, [ROUTE_SCOPE, TOOL_SCOPE]);
    assert.deepEqual(prm.authorization_servers, [idp.issuer]);
  }));

  test('without a refresh token: 403 → new authorization with math:add → login again → add(2, 3) = 5', { timeout: 60000 }, withLogs(async () => {
    const provider = new NoRefreshOAuthProvider();
    const { seen, fetchFn } = watchingFetch(idp.issuer);
    const options = { authProvider: provider, fetch: fetchFn };
    const client = newClient();
    // A transport starts once: the failed first connect gets its own, as in a
    // CLI that exits after printing the login URL.
    const transport = new StreamableHTTPClientTransport(new URL(resource), options);
    try {
      // 1. First authorization, with the 401's scope (which wins over scopes_supported).
      await assert.rejects(newClient().connect(new StreamableHTTPClientTransport(new URL(resource), options)), UnauthorizedError);
      const firstAuthUrl = provider.authorizationUrl;
      assert.equal(firstAuthUrl?.searchParams.get('scope'), ROUTE_SCOPE);
      assert.equal(firstAuthUrl.searchParams.get('resource'), resource);
      const firstSignIn = await signInAsDevUser(firstAuthUrl, REDIRECT_URI);
      assert.deepEqual(firstSignIn.pages, ['Sign in', 'Authorize']);
      await transport.finishAuth(firstSignIn.code);
      const firstToken = provider.saved.tokens;
      assert.equal(firstToken.refresh_token, undefined, 'no refresh token for a client without that grant');
      assert.deepEqual(scopesOf(firstToken.access_token), [ROUTE_SCOPE]);
      assert.equal(jwtPayload(firstToken.access_token).aud, resource);

      // 2. Connected; tools/list hides `add`, which this token may not call.
      await client.connect(transport);
      const before = await client.listTools();
      assert.deepEqual(before.tools.map((t) => t.name), [], `tools/list without ${TOOL_SCOPE}: ${JSON.stringify(before.tools)}`);

      // 3. tools/call add → 403; the SDK starts a new authorization with the challenged scope.
      provider.authorizationUrl = undefined;
      await assert.rejects(client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }), UnauthorizedError);
      assert.deepEqual(seen.challenges, [
        `Bearer error="insufficient_scope", scope="${ROUTE_SCOPE} ${TOOL_SCOPE}", resource_metadata="${metadataUrl}", error_description="tool 'add' requires scope ${TOOL_SCOPE}"`,
      ]);
      const stepUpUrl = provider.authorizationUrl;
      assert.ok(stepUpUrl, 'the SDK called redirectToAuthorization after the 403');
      assert.equal(stepUpUrl.origin, idp.issuer);
      assert.equal(stepUpUrl.searchParams.get('scope'), `${ROUTE_SCOPE} ${TOOL_SCOPE}`);
      assert.equal(stepUpUrl.searchParams.get('resource'), resource);
      assert.equal(stepUpUrl.searchParams.get('client_id'), provider.saved.client.client_id);
      assert.equal(stepUpUrl.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(seen.requests.filter((r) => r === 'POST idp/reg 201').length, 1, 'the client registered once');

      // 4. The user signs in again (a fresh browser: no idp session) and consents to math:add.
      const stepUpSignIn = await signInAsDevUser(stepUpUrl, REDIRECT_URI);
      assert.deepEqual(stepUpSignIn.pages, ['Sign in', 'Authorize']);
      assert.equal(stepUpSignIn.state, provider.saved.state);
      await transport.finishAuth(stepUpSignIn.code);
      const secondToken = provider.saved.tokens.access_token;
      assert.notEqual(secondToken, firstToken.access_token);
      assert.deepEqual(scopesOf(secondToken).sort(), [TOOL_SCOPE, ROUTE_SCOPE].sort());
      assert.equal(jwtPayload(secondToken).sub, DEV_USER);
      assert.equal(jwtPayload(secondToken).aud, resource);

      // 5. The same client and MCP session calls add again: 5, with no further 403.
      const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
      assert.equal(seen.challenges.length, 1, 'exactly one 403 challenge');
      const afterStepUp = await client.listTools();
      assert.deepEqual(afterStepUp.tools.map((t) => t.name), ['add']);
    } finally {
      await client.close();
    }
  }));

  test('with a refresh token: the SDK refreshes (same scope), meets the identical 403 and gives up', { timeout: 60000 }, withLogs(async () => {
    const provider = new MemoryOAuthProvider(); // registers authorization_code + refresh_token
    const { seen, fetchFn } = watchingFetch(idp.issuer);
    const options = { authProvider: provider, fetch: fetchFn };
    const client = newClient();
    // A transport starts once: the failed first connect gets its own, as in a
    // CLI that exits after printing the login URL.
    const transport = new StreamableHTTPClientTransport(new URL(resource), options);
    try {
      await assert.rejects(newClient().connect(new StreamableHTTPClientTransport(new URL(resource), options)), UnauthorizedError);
      const signIn = await signInAsDevUser(provider.authorizationUrl, REDIRECT_URI);
      await transport.finishAuth(signIn.code);
      const firstToken = provider.saved.tokens;
      assert.ok(firstToken.refresh_token, 'the idp issued a refresh token');
      assert.deepEqual(scopesOf(firstToken.access_token), [ROUTE_SCOPE]);
      await client.connect(transport);

      provider.authorizationUrl = undefined;
      const tokenRequestsBefore = seen.requests.filter((r) => r === 'POST idp/token 200').length;
      const error = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }).then(
        (result) => assert.fail(`tools/call add succeeded: ${JSON.stringify(result)}`),
        (e) => e,
      );
      assert.ok(error instanceof StreamableHTTPError, `a StreamableHTTPError: ${error?.stack ?? error}`);
      assert.equal(error.code, 403);
      assert.match(error.message, /Server returned 403 after trying upscoping/);

      // Two identical challenges with one refresh between them, and no login.
      assert.equal(seen.challenges.length, 2, JSON.stringify(seen.requests));
      assert.equal(seen.challenges[0], seen.challenges[1]);
      assert.match(seen.challenges[0], new RegExp(`^Bearer error="insufficient_scope", scope="${ROUTE_SCOPE} ${TOOL_SCOPE}"`));
      assert.equal(seen.requests.filter((r) => r === 'POST idp/token 200').length, tokenRequestsBefore + 1, 'one refresh');
      // (Discovery GETs and the SDK's GET for an SSE stream interleave; the POSTs tell the story.)
      const firstForbidden = seen.requests.indexOf('POST gateway/mcp 403');
      const posts = seen.requests.slice(firstForbidden).filter((r) => r.startsWith('POST '));
      assert.deepEqual(posts, ['POST gateway/mcp 403', 'POST idp/token 200', 'POST gateway/mcp 403'], JSON.stringify(seen.requests));
      assert.equal(provider.authorizationUrl, undefined, 'the SDK did not send the user to the idp');
      const refreshed = provider.saved.tokens;
      assert.notEqual(refreshed.access_token, firstToken.access_token);
      assert.deepEqual(scopesOf(refreshed.access_token), [ROUTE_SCOPE], 'a refresh cannot add math:add');
    } finally {
      await client.close();
    }
  }));
});
