// Key lifecycle against a real HTTPS JWKS server on loopback (test CA made
// with the openssl CLI): verified TLS with a per-provider ca_file, key
// rotation, the token cache dropping tokens of removed keys, stale-on-error
// for 500 / garbage / 10 MiB / slow / redirect / server gone, TLS failures,
// and discovery (OpenID Connect and RFC 8414 path-inserted).
// Cases: REL-JWKS-* in docs/security.md.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { makeTestPki, startJwksServer } from './lib/jwks_server.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { startProcess, stopAll } from './lib/processes.mjs';
import { generateSigningKey, mintToken } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.test';

async function startTokenGateway(dir, name, provider, upstreamUrl) {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const config = {
    listeners: [{ address: `127.0.0.1:${port}` }],
    providers: { idp: { algorithms: ['RS256', 'ES256', 'EdDSA'], ...provider } },
    upstreams: { backend: { url: upstreamUrl } },
    routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['idp'] } }],
  };
  const configPath = await writeConfig(dir, config, `${name}.yaml`);
  const proc = await startProcess(name, requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  return { proc, port, resource, url: `http://127.0.0.1:${port}/mcp` };
}

async function call(gateway, token) {
  return httpRequest(gateway.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
  });
}

// The log line may reach us a little after the HTTP response: poll for it.
async function waitForLog(proc, regex, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!regex.test(proc.stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(proc.stderr, regex);
}

function description(res) {
  return /error_description="([^"]*)"/.exec(res.headers['www-authenticate'] ?? '')?.[1];
}

describe('JWKS over HTTPS, rotation, stale-on-error, discovery', () => {
  let tmp;
  let pki;
  let jwks;
  let upstream;
  let gw;
  let k1;
  let k2;

  before(async () => {
    tmp = await makeTempDir('mag-tokens-');
    pki = await makeTestPki(tmp);
    upstream = await startEchoUpstream();
    k1 = await generateSigningKey('k1');
    k2 = await generateSigningKey('k2');
    jwks = await startJwksServer({ pki });
    jwks.setKeys([k1]);
    gw = await startTokenGateway(tmp, 'gw-https', {
      issuer: ISSUER,
      jwks_uri: `https://localhost:${jwks.port}/jwks`,
      ca_file: pki.caFile,
      jwks_refresh: 10,
    }, upstream.origin);
  });
  after(async () => {
    await stopAll();
    await jwks?.close();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  test('keys fetched over verified HTTPS with the provider ca_file', async () => {
    const token = await mintToken(k1, { iss: ISSUER, aud: gw.resource });
    const res = await call(gw, token);
    assert.equal(res.status, 200, gw.proc.describe());
    // A second request is a cache hit; it must still be accepted.
    assert.equal((await call(gw, token)).status, 200);
  });

  test('rotation: a new kid works on its first request; a removed key is refused although cached', async () => {
    const old = await mintToken(k1, { iss: ISSUER, aud: gw.resource });
    assert.equal((await call(gw, old)).status, 200); // now in the verified-token cache
    jwks.setKeys([k2]);
    const before = jwks.count();
    const fresh = await mintToken(k2, { iss: ISSUER, aud: gw.resource });
    const res = await call(gw, fresh);
    assert.equal(res.status, 200, gw.proc.describe());
    assert.equal(jwks.count(), before + 1, 'exactly one on-demand refetch');
    const stale = await call(gw, old);
    assert.equal(stale.status, 401);
    assert.equal(description(stale), 'The token was signed by an unknown key');
  });

  test('an unknown kid storm causes no further refetch inside the rate-limit window', async () => {
    const before = jwks.count();
    const stranger = await generateSigningKey('stranger');
    for (let i = 0; i < 20; i++) {
      const res = await call(gw, await mintToken(stranger, { iss: ISSUER, aud: gw.resource, kid: `random-${i}` }));
      assert.equal(res.status, 401);
    }
    assert.equal(jwks.count(), before);
  });

  for (const [id, mode] of [
    ['REL-JWKS-05', 'status500'],
    ['REL-JWKS-06', 'garbage'],
    ['REL-JWKS-06', 'empty_keys'],
    ['REL-JWKS-07', 'huge'],
    ['REL-JWKS-08', 'redirect'],
    ['REL-JWKS-03', 'slow'],
  ]) {
    test(`${id}: JWKS answering ${mode}: the last good keys are kept`, { timeout: 60000 }, async () => {
      jwks.state.mode = mode;
      const before = jwks.count();
      await jwks.waitForRequest(before, '/jwks', 30000);
      // Let the failed fetch finish (the slow one needs the 5 s deadline).
      await new Promise((r) => setTimeout(r, mode === 'slow' ? 6000 : 500));
      const res = await call(gw, await mintToken(k2, { iss: ISSUER, aud: gw.resource, claims: { mode } }));
      assert.equal(res.status, 200, gw.proc.describe());
      assert.ok(gw.proc.running);
      jwks.state.mode = 'ok';
    });
  }

  test('the log says why fetches failed and that keys were kept', () => {
    const log = gw.proc.stderr;
    assert.match(log, /fetch failed \(HTTP status 500\), keeping the last good keys/);
    assert.match(log, /fetch failed \(HTTP status 302\)/);
    assert.match(log, /fetch failed \(too large\)/);
    assert.match(log, /fetch failed \(timeout\)/);
  });

  test('without the test CA (system store only) the TLS handshake fails and no key is trusted', async () => {
    const strict = await startTokenGateway(tmp, 'gw-no-ca', { issuer: ISSUER, jwks_uri: `https://localhost:${jwks.port}/jwks` }, upstream.origin);
    const res = await call(strict, await mintToken(k2, { iss: ISSUER, aud: strict.resource }));
    assert.equal(res.status, 401, strict.proc.describe());
    await waitForLog(strict.proc, /certificate verify failed/);
  });

  test('a certificate for another host name is refused (127.0.0.1 is not in the SAN)', async () => {
    const wrong = await startTokenGateway(tmp, 'gw-wrong-host', {
      issuer: ISSUER,
      jwks_uri: `https://127.0.0.1:${jwks.port}/jwks`,
      ca_file: pki.caFile,
    }, upstream.origin);
    const res = await call(wrong, await mintToken(k2, { iss: ISSUER, aud: wrong.resource }));
    assert.equal(res.status, 401, wrong.proc.describe());
    await waitForLog(wrong.proc, /certificate verify failed/);
  });

  test('discovery through openid-configuration, then RFC 8414 path-inserted metadata', async () => {
    const base = `https://localhost:${jwks.port}`;
    const oidcIssuer = `${base}/tenant-a`;
    const rfc8414Issuer = `${base}/tenant-b`;
    jwks.state.documents['/tenant-a/.well-known/openid-configuration'] = { issuer: oidcIssuer, jwks_uri: `${base}/jwks` };
    jwks.state.documents['/.well-known/oauth-authorization-server/tenant-b'] = { issuer: rfc8414Issuer, jwks_uri: `${base}/jwks` };
    // An issuer whose document names another issuer must not be trusted.
    const liarIssuer = `${base}/tenant-c`;
    jwks.state.documents['/tenant-c/.well-known/openid-configuration'] = { issuer: `${base}/tenant-c/`, jwks_uri: `${base}/jwks` };

    for (const [name, iss, ok] of [['gw-oidc', oidcIssuer, true], ['gw-8414', rfc8414Issuer, true], ['gw-liar', liarIssuer, false]]) {
      const g = await startTokenGateway(tmp, name, { issuer: iss, ca_file: pki.caFile }, upstream.origin);
      const res = await call(g, await mintToken(k2, { iss, aud: g.resource }));
      assert.equal(res.status, ok ? 200 : 401, g.proc.describe());
    }
    assert.ok(jwks.count('/tenant-b/.well-known/openid-configuration') >= 1, 'OIDC path tried first');
  });

  test('REL-JWKS-02: JWKS server gone: known keys keep working', { timeout: 60000 }, async () => {
    const token = await mintToken(k2, { iss: ISSUER, aud: gw.resource, claims: { phase: 'gone' } });
    await jwks.close();
    // At least one scheduled refresh (every 10 s) fails meanwhile.
    await new Promise((r) => setTimeout(r, 11000));
    assert.equal((await call(gw, token)).status, 200, gw.proc.describe());
    await waitForLog(gw.proc, /fetch failed \(.*(connect|refused|TLS\/connection error)/i);
  });
});
