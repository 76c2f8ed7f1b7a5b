// The SDK client's full OAuth flow against the compose stack of
// docker-compose.yml (+ override): gateway on http://localhost:8000, dev idp on
// http://localhost:9400. Run by tests/e2e/compose.sh once the stack is healthy.
// The same token then reaches mcp-add-server through /exchanged, where the
// gateway exchanges it for one with the token-checking upstream's audience
// (compose.sh reads that upstream's log).
// Overridable: E2E_GATEWAY_URL, E2E_EXCHANGED_URL, E2E_ISSUER.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEV_PASSWORD, DEV_USER } from '../integration/lib/dev_idp.mjs';
import { httpRequest, initializeBody, MCP_POST_HEADERS } from '../integration/lib/net.mjs';
import { assertRequestOrder, authorizeWithSdk, callAddThroughGateway, jwtPayload } from '../integration/lib/oauth_client.mjs';
import { assertAddOnly, connectWithBearer } from '../integration/lib/sdk_client.mjs';

const GATEWAY_URL = process.env.E2E_GATEWAY_URL ?? 'http://localhost:8000/mcp';
const EXCHANGED_URL = process.env.E2E_EXCHANGED_URL ?? 'http://localhost:8000/exchanged';
const ISSUER = process.env.E2E_ISSUER ?? 'http://localhost:9400';

test('compose: unauthenticated request → 401 with resource metadata naming the idp', async () => {
  const res = await httpRequest(GATEWAY_URL, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });
  assert.equal(res.status, 401);
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(res.headers['www-authenticate'] ?? '')?.[1];
  assert.ok(metadataUrl, `resource_metadata in ${res.headers['www-authenticate']}`);
  const prm = await (await fetch(metadataUrl)).json();
  assert.equal(prm.resource, GATEWAY_URL);
  assert.deepEqual(prm.authorization_servers, [ISSUER]);
});

test('compose: SDK client OAuth flow (registration, PKCE, resource, login) then add(2, 3) = 5', { timeout: 60000 }, async () => {
  const { provider, requests, authUrl, signIn, transport } = await authorizeWithSdk(GATEWAY_URL, { user: DEV_USER, password: DEV_PASSWORD });
  assertRequestOrder(requests, ISSUER, [
    'POST gateway/mcp 401',
    'GET gateway/.well-known/oauth-protected-resource/mcp 200',
    'GET idp/.well-known/oauth-authorization-server 200',
    'POST idp/reg 201',
    'POST idp/token 200',
  ]);
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authUrl.searchParams.get('resource'), GATEWAY_URL);
  assert.deepEqual(signIn.pages, ['Sign in', 'Authorize']);
  const claims = jwtPayload(provider.saved.tokens?.access_token ?? '..');
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, GATEWAY_URL);
  await callAddThroughGateway(transport);
  // Token exchange: the user's token for /mcp, accepted on /exchanged, reaches
  // the upstream only as an exchanged token.
  await assertAddOnly(await connectWithBearer(EXCHANGED_URL, provider.saved.tokens.access_token, 'compose-exchanged'));
});
