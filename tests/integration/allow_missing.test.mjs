// A route with `auth.allow_missing: true` forwards requests that carry no
// bearer token anonymously, but a request that presents one is verified like
// on any other route: a token that fails (unknown issuer, unknown key, wrong
// audience, malformed) is a 401 and never falls back to anonymous.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, httpRequest } from './lib/net.mjs';
import { stopAll } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.allow-missing.example';
const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

describe('allow_missing route', () => {
  let tmp;
  let upstream;
  let gw;
  let key;

  before(async () => {
    tmp = await makeTempDir('mag-allow-missing-');
    upstream = await startEchoUpstream();
    key = await generateSigningKey('am-key');
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    gw = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile, routeAuth: { providers: ['test'], allow_missing: true } });
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  const post = (authorization) =>
    httpRequest(gw.url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...(authorization ? { authorization } : {}) }, body: PING });

  test('no bearer token: forwarded anonymously, without an Authorization header', async () => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
      const before = upstream.requests.length;
      const res = await post(authorization);
      assert.equal(res.status, 200, `${authorization ?? 'no header'}: ${res.status} ${res.body}\n${gw.proc.describe()}`);
      assert.equal(upstream.requests.length, before + 1, 'forwarded once');
      assert.equal(upstream.last().headers.authorization, undefined, 'Authorization is not forwarded');
    }
  });

  test('a valid token is accepted', async () => {
    const res = await post(`Bearer ${await mintToken(key, { iss: ISSUER, aud: gw.resource })}`);
    assert.equal(res.status, 200, res.body);
  });

  test('JWT-CLM-14: a presented token that fails is a 401 invalid_token, never anonymous', async () => {
    const stranger = await generateSigningKey('am-stranger');
    const cases = [
      ['another issuer', await mintToken(stranger, { iss: 'https://other-issuer.example', aud: gw.resource })],
      ['an unknown key', await mintToken(stranger, { iss: ISSUER, aud: gw.resource })],
      ['another audience', await mintToken(key, { iss: ISSUER, aud: 'https://other.example/mcp' })],
      ['malformed', 'not-a-jwt'],
    ];
    for (const [label, token] of cases) {
      const before = upstream.requests.length;
      const res = await post(`Bearer ${token}`);
      assert.equal(res.status, 401, `${label}: ${res.status} ${res.body}`);
      assert.match(res.headers['www-authenticate'] ?? '', /error="invalid_token"/, `${label}: challenge`);
      assert.equal(upstream.requests.length, before, `${label}: nothing forwarded`);
    }
    assert.ok(gw.proc.running);
  });
});
