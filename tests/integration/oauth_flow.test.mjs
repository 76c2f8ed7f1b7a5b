// The whole MCP authorization flow with real parts and no mock: the dev
// authorization server of docker/idp (oidc-provider), mcp-auth-gateway with
// the idp's JWKS over http, mcp-add-server, and the official TypeScript SDK
// client with an OAuthClientProvider. The only scripted part is the user, who
// signs in on the idp's login and consent pages with plain HTTP requests.
//
//   unauthenticated request → 401 → protected-resource metadata →
//   authorization-server metadata → dynamic registration → authorization
//   request (PKCE S256 + resource) → login + consent → token →
//   initialize, tools/list, add(2, 3) = 5
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startBackend } from './lib/backend.mjs';
import { DEV_PASSWORD, DEV_USER, signInAsDevUser, startDevIdp } from './lib/dev_idp.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import {
  MemoryOAuthProvider,
  REDIRECT_URI,
  assertRequestOrder,
  authorizeWithSdk,
  callAddThroughGateway,
  jwtPayload,
  newClient,
} from './lib/oauth_client.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';

describe('OAuth flow: SDK client → gateway → dev idp (oidc-provider)', () => {
  let tmp;
  let idp;
  let gatewayUrl;
  let resource;

  before(async () => {
    tmp = await makeTempDir();
    const gatewayPort = await freePort();
    resource = `http://127.0.0.1:${gatewayPort}/mcp`;
    idp = await startDevIdp({ resources: [resource] });
    const backend = await startBackend();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${gatewayPort}` }],
      providers: { idp: { issuer: idp.issuer, jwks_uri: idp.jwksUri, algorithms: ['RS256'] } },
      upstreams: { backend: { url: backend.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['idp'], scopes: [] } }],
    });
    const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], {
      timeoutMs: 15000,
    });
    assert.equal(proc.port, gatewayPort);
    gatewayUrl = resource;
  });

  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  test('an unauthenticated request gets 401 pointing at the metadata that names the idp', { timeout: 20000 }, withLogs(async () => {
    const res = await httpRequest(gatewayUrl, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });
    assert.equal(res.status, 401);
    const challenge = res.headers['www-authenticate'] ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.ok(metadataUrl, `resource_metadata in WWW-Authenticate: ${challenge}`);
    const prm = await (await fetch(metadataUrl)).json();
    assert.equal(prm.resource, resource);
    assert.deepEqual(prm.authorization_servers, [idp.issuer]);
  }));

  test('SDK client: discovery, registration, PKCE + resource, login, token, add(2, 3) = 5', { timeout: 60000 }, withLogs(async () => {
    const { provider, requests, authUrl, signIn, transport } = await authorizeWithSdk(gatewayUrl, { user: DEV_USER, password: DEV_PASSWORD });

    // 1. No token yet: 401, then discovery and dynamic registration, in this order.
    assertRequestOrder(requests, idp.issuer, [
      'POST gateway/mcp 401',
      'GET gateway/.well-known/oauth-protected-resource/mcp 200',
      'GET idp/.well-known/oauth-authorization-server 200',
      'POST idp/reg 201',
      'POST idp/token 200',
    ]);
    assert.ok(provider.saved.client?.client_id, 'dynamic registration returned a client_id');

    // 2. The authorization request: code flow, PKCE S256, the gateway's resource.
    assert.equal(authUrl.origin, idp.issuer);
    assert.equal(authUrl.searchParams.get('response_type'), 'code');
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authUrl.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(authUrl.searchParams.get('resource'), resource);
    assert.equal(authUrl.searchParams.get('client_id'), provider.saved.client.client_id);

    // 3. The user signed in and consented; the idp redirected back with a code.
    assert.deepEqual(signIn.pages, ['Sign in', 'Authorize']);
    assert.ok(signIn.code, 'an authorization code');
    assert.equal(signIn.state, provider.saved.state);
    assert.equal(signIn.iss, idp.issuer, 'RFC 9207 iss in the authorization response');

    // 4. Code → token (with the PKCE verifier): a JWT for the gateway's resource.
    const claims = jwtPayload(provider.saved.tokens?.access_token ?? '..');
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, resource);
    assert.equal(claims.sub, DEV_USER);
    assert.equal(claims.scope, 'mcp:tools', 'the default scope the idp grants for the resource');
    assert.equal(claims.client_id, provider.saved.client.client_id);

    // 5. initialize, tools/list, add(2, 3) = 5 through the gateway with that token.
    await callAddThroughGateway(transport);
  }));

  test('the idp refuses a wrong password and a resource it does not serve', { timeout: 30000 }, withLogs(async () => {
    const provider = new MemoryOAuthProvider();
    await assert.rejects(
      newClient().connect(
        new StreamableHTTPClientTransport(new URL(gatewayUrl), { authProvider: provider }),
      ),
      UnauthorizedError,
    );
    await assert.rejects(signInAsDevUser(provider.authorizationUrl, REDIRECT_URI, { password: 'wrong' }), /HTTP 401/);

    // Unknown resource: the idp answers invalid_target instead of a login page.
    const other = new URL(provider.authorizationUrl);
    other.searchParams.set('resource', 'http://127.0.0.1:1/elsewhere');
    await assert.rejects(signInAsDevUser(other, REDIRECT_URI), /invalid_target/);
  }));
});
