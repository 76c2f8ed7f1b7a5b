// https:// upstreams: mcp-add-server behind TLS-terminating node proxies
// (node's tls module, so the TLS is real), certificates made at test time
// with the openssl CLI. The SDK client goes through the gateway with a dev
// token; keep-alive reuses one TLS connection, a reconnect resumes the
// session, a server that requires a client certificate gets one only when
// the upstream names it, and every bad certificate (expired, wrong host,
// untrusted CA) or a TLS 1.1-only server is a 502 with the JSON error body
// of other upstream failures, the reason in the access log and in
// mag_upstream_tls_failures_total. Last, the MCP conformance server suite
// against server-everything behind TLS through the gateway passes every
// scenario that passes against server-everything directly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { passing, runConformance, startEverything } from './lib/everything.mjs';
import { DEV_JWKS, DEV_PRIVATE_KEY, GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { sampleDelta, scrapeSamples } from './lib/metrics.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { assertAddOnly, connectWithBearer } from './lib/sdk_client.mjs';
import { devToken } from './lib/tokens.mjs';

const ISSUER = 'https://dev.mcp-auth-gateway.local';

// ---- certificates, by the openssl CLI ----

function openssl(dir, args) {
  try {
    return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to make test certificates and is not installed');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

function makeCa(dir, name) {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

// A leaf certificate signed by `ca`; `days` -1 makes one that has expired.
function makeLeaf(dir, name, ca, { san, days = 2, usage = 'serverAuth' }) {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  const ext = `${name}.ext`;
  writeFileSync(join(dir, ext), `${san ? `subjectAltName=${san}\n` : ''}extendedKeyUsage=${usage}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', String(days), '-extfile', ext, '-out', `${name}.crt`]);
}

// ---- TLS in front of mcp-add-server ----

// Every accepted TLS connection is piped to `target`; counts handshakes,
// resumed sessions and the SNI each client sent.
async function startTlsProxy(target, options) {
  const stats = { connections: 0, handshakes: 0, resumed: 0, servernames: [], sockets: new Set() };
  const server = tls.createServer(options, (socket) => {
    stats.handshakes += 1;
    if (socket.isSessionReused()) stats.resumed += 1;
    stats.servernames.push(socket.servername);
    stats.sockets.add(socket);
    const upstream = net.connect(target.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      stats.sockets.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('connection', () => { stats.connections += 1; });
  server.on('tlsClientError', () => {});
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    stats,
    port: server.address().port,
    dropConnections: () => { for (const s of stats.sockets) s.destroy(); },
    close: () => new Promise((resolve) => { for (const s of stats.sockets) s.destroy(); server.close(resolve); }),
  };
}

const pem = (dir, file) => readFileSync(join(dir, file));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('https:// upstreams', () => {
  let dir;
  let origin;
  let adminOrigin;
  let accessLog;
  let backend;
  let configPath;
  const proxies = {};

  before(async () => {
    dir = await makeTempDir('mag-https-');
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    makeCa(dir, 'client-ca');
    makeLeaf(dir, 'good', 'ca', { san: 'IP:127.0.0.1,DNS:localhost' });
    makeLeaf(dir, 'expired', 'ca', { san: 'IP:127.0.0.1,DNS:localhost', days: -1 });
    makeLeaf(dir, 'wrong-host', 'ca', { san: 'DNS:wrong.example' });
    makeLeaf(dir, 'untrusted', 'other-ca', { san: 'IP:127.0.0.1,DNS:localhost' });
    makeLeaf(dir, 'client', 'client-ca', { usage: 'clientAuth' });

    backend = await startBackend();
    const serve = (name, extra = {}) => startTlsProxy(backend, { key: pem(dir, `${name}.key`), cert: pem(dir, `${name}.crt`), ...extra });
    proxies.good = await serve('good');
    proxies.sni = await serve('good');  // its own, so its counts are this test's
    proxies.expired = await serve('expired');
    proxies.wrongHost = await serve('wrong-host');
    proxies.untrusted = await serve('untrusted');
    proxies.poolExpired = await serve('expired');
    proxies.poolGood = await serve('good');
    proxies.mtls = await serve('good', { requestCert: true, rejectUnauthorized: true, ca: pem(dir, 'client-ca.crt') });
    // TLS 1.1 only; OpenSSL 3 needs security level 0 for it at all.
    proxies.tls11 = await serve('good', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });

    const port = await freePort();
    const adminPort = await freePort();
    origin = `http://127.0.0.1:${port}`;
    adminOrigin = `http://127.0.0.1:${adminPort}`;
    accessLog = join(dir, 'access.log');
    const https = (proxy) => `https://127.0.0.1:${proxy.port}`;
    const upstreams = {
      good: { url: https(proxies.good), ca_file: 'ca.crt' },
      sni: { url: https(proxies.sni), ca_file: 'ca.crt', tls_server_name: 'localhost' },
      expired: { url: https(proxies.expired), ca_file: 'ca.crt' },
      wrong_host: { url: https(proxies.wrongHost), ca_file: 'ca.crt', tls_server_name: 'localhost' },
      untrusted: { url: https(proxies.untrusted), ca_file: 'ca.crt' },
      system_store: { url: https(proxies.good) },
      tls11: { url: https(proxies.tls11), ca_file: 'ca.crt' },
      mtls_none: { url: https(proxies.mtls), ca_file: 'ca.crt' },
      mtls: { url: https(proxies.mtls), ca_file: 'ca.crt', client_cert_file: 'client.crt', client_key_file: 'client.key' },
      pool: { endpoints: [https(proxies.poolExpired), https(proxies.poolGood)], ca_file: 'ca.crt' },
    };
    const config = {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      access_log: { path: accessLog, format: 'json' },
      // One worker: one pool per upstream, so connection counts are exact.
      workers: 1,
      providers: { dev: { issuer: ISSUER, jwks_file: DEV_JWKS, algorithms: ['RS256', 'ES256'] } },
      upstreams,
      routes: Object.keys(upstreams).map((name) => ({
        path_prefix: `/${name}`,
        prefix_rewrite: '/mcp',
        upstream: name,
        ...(name === 'good'
          ? { resource: `${origin}/good`, auth: { providers: ['dev'], scopes: ['mcp:math'] } }
          : { auth: 'none' }),
      })),
    };
    configPath = await writeConfig(dir, config);
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    await waitFor(async () => (await httpRequest(`${adminOrigin}/healthz`).catch(() => ({}))).status === 200, 'the admin listener');
  });

  after(async () => {
    await stopAll();
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    await removeTempDir(dir);
  });

  async function waitFor(check, what, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const post = (route) => httpRequest(`${origin}/${route}`, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });

  // The access log's line for the last request to `route`.
  async function lastLogLine(route) {
    let line;
    await waitFor(async () => {
      const text = await readFile(accessLog, 'utf8').catch(() => '');
      const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.route === `/${route}`);
      line = lines.at(-1);
      return line !== undefined;
    }, `an access log line for /${route}`);
    return line;
  }

  test('the SDK client lists tools and calls add(2, 3) = 5 over an https upstream', withLogs(async () => {
    const token = await devToken({ keyFile: DEV_PRIVATE_KEY, iss: ISSUER, aud: `${origin}/good`, scope: 'mcp:math' });
    await assertAddOnly(await connectWithBearer(`${origin}/good`, token, 'https-upstream-test'));
    assert.ok(proxies.good.stats.handshakes >= 1);
    // An IP-literal URL sends no SNI (RFC 6066 §3).
    assert.ok(proxies.good.stats.servernames.every((n) => !n), JSON.stringify(proxies.good.stats.servernames));
  }));

  test('keep-alive: several requests share one TLS connection; a reconnect resumes the session', withLogs(async () => {
    const { stats } = proxies.sni;
    for (let i = 0; i < 5; i += 1) assert.equal((await post('sni')).status, 200);
    assert.equal(stats.handshakes, 1, 'five sequential requests, one TLS handshake');
    assert.equal(stats.resumed, 0);
    assert.deepEqual(stats.servernames, ['localhost'], 'tls_server_name is the SNI');
    proxies.sni.dropConnections();
    await sleep(200);  // the gateway sees its idle connection close
    assert.equal((await post('sni')).status, 200);
    assert.equal(stats.handshakes, 2, 'a new connection after the server closed the old one');
    assert.equal(stats.resumed, 1, 'the new connection resumed the first one\'s session');
  }));

  test('a server that requires a client certificate: 502 without client_cert_file, 200 with it', withLogs(async () => {
    const before = await scrapeSamples(adminOrigin);
    const refused = await post('mtls_none');
    assert.equal(refused.status, 502, refused.body);
    assert.equal(JSON.parse(refused.body).error, 'bad_gateway', refused.body);
    const after = await scrapeSamples(adminOrigin);
    assert.equal(sampleDelta(before, after, 'mag_upstream_tls_failures_total{upstream="mtls_none",reason="handshake"}'), 1);
    assert.match((await lastLogLine('mtls_none')).upstream_error, /^tls: .*certificate/);
    const ok = await post('mtls');
    assert.equal(ok.status, 200, ok.body);
  }));

  test('several endpoints: a failed handshake puts that endpoint in back-off and the request moves to the next', withLogs(async () => {
    // Round-robin starts at the first endpoint (the expired certificate):
    // the first request fails there before anything is sent, moves to the
    // good one, and the next requests skip the expired one (2 s back-off).
    for (let i = 0; i < 6; i += 1) {
      const res = await post('pool');
      assert.equal(res.status, 200, `request ${i}: ${res.body}`);
    }
    assert.equal(proxies.poolExpired.stats.connections, 1, 'one attempt on the endpoint with the expired certificate');
    assert.equal(proxies.poolExpired.stats.handshakes, 0);
    assert.equal(proxies.poolGood.stats.handshakes, 1, 'the good endpoint served all six on one connection');
  }));

  // The server really offers TLS 1.1 only: a node client limited to 1.1
  // completes a handshake with it.
  async function assertServesTls11Only(port) {
    const protocol = await new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ca: pem(dir, 'ca.crt'), minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
        resolve(socket.getProtocol());
        socket.destroy();
      });
      socket.on('error', (e) => reject(new Error(`the TLS 1.1 server cannot be reached with TLS 1.1 in this environment (${e.message}): the TLS 1.1 case cannot be tested`)));
    });
    assert.equal(protocol, 'TLSv1.1');
  }

  const failures = [
    { route: 'expired', reason: 'verify', log: /^tls: certificate has expired$/ },
    { route: 'wrong_host', reason: 'verify', log: /^tls: hostname mismatch$/ },
    { route: 'untrusted', reason: 'verify', log: /^tls: unable to get local issuer certificate$/ },
    { route: 'system_store', reason: 'verify', log: /^tls: unable to get local issuer certificate$/ },
    { route: 'tls11', reason: 'protocol', log: /^tls: .*(protocol|version)/i, check: () => assertServesTls11Only(proxies.tls11.port) },
  ];
  for (const { route, reason, log, check } of failures) {
    test(`${route}: 502 with the JSON error body, the tls reason in the access log and the metric`, withLogs(async () => {
      if (check) await check();
      const before = await scrapeSamples(adminOrigin);
      const res = await post(route);
      assert.equal(res.status, 502, res.body);
      // The JSON error body of every upstream failure.
      const body = JSON.parse(res.body);
      assert.equal(body.error, 'bad_gateway', res.body);
      assert.match(body.error_description, /\(tls (verify|protocol|handshake)\)/, res.body);
      const after = await scrapeSamples(adminOrigin);
      assert.equal(sampleDelta(before, after, `mag_upstream_tls_failures_total{upstream="${route}",reason="${reason}"}`), 1);
      assert.equal(sampleDelta(before, after, `mag_upstream_errors_total{upstream="${route}",kind="tls"}`), 1);
      assert.match((await lastLogLine(route)).upstream_error, log);
    }));
  }

  test('/config_dump shows the TLS settings (paths, not contents)', withLogs(async () => {
    const res = await httpRequest(`${adminOrigin}/config_dump`);
    assert.equal(res.status, 200);
    const mtls = JSON.parse(res.body).upstreams.mtls;
    assert.equal(mtls.tls, true);
    assert.equal(mtls.ca_file, join(dir, 'ca.crt'));
    assert.equal(mtls.client_cert_file, join(dir, 'client.crt'));
    assert.equal(mtls.client_key_file, join(dir, 'client.key'));
    assert.equal(mtls.tls_server_name, null);
    assert.ok(!res.body.includes('PRIVATE KEY'));
  }));

  // Last: its connections would change the handshake counts above.
  test("doctor's MCP initialize verifies and authenticates as forwarded requests do", withLogs(async () => {
    const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', configPath, '--json'], { timeoutMs: 60000 });
    const findings = Object.fromEntries(
      JSON.parse(r.stdout).findings.filter((f) => f.check === 'upstream.mcp').map((f) => [f.route, f]),
    );
    for (const route of ['/good', '/sni', '/mtls']) {
      assert.equal(findings[route]?.severity, 'ok', `${route}: ${JSON.stringify(findings[route])}`);
      assert.match(findings[route].message, /at https:\/\/127\.0\.0\.1:\d+\/mcp: MCP server mcp-add-server/);
    }
    for (const route of ['/expired', '/wrong_host', '/untrusted', '/system_store', '/tls11', '/mtls_none']) {
      assert.equal(findings[route]?.severity, 'error', `${route}: ${JSON.stringify(findings[route])}`);
      assert.match(findings[route].message, /TLS|tls|certificate|handshake|closed/, `${route}: ${findings[route].message}`);
    }
    assert.equal(r.code, 1, 'errors found: exit 1');
  }));
});

describe('conformance: server-everything behind TLS through the gateway, compared with direct', () => {
  let dir;
  let everything;
  let proxy;
  let gatewayUrl;

  before(async () => {
    dir = await makeTempDir('mag-https-conformance-');
    makeCa(dir, 'ca');
    makeLeaf(dir, 'good', 'ca', { san: 'IP:127.0.0.1,DNS:localhost' });
    everything = await startEverything();
    proxy = await startTlsProxy({ port: Number(new URL(everything.origin).port) }, { key: pem(dir, 'good.key'), cert: pem(dir, 'good.crt') });
    const port = await freePort();
    const configPath = await writeConfig(dir, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: '' },
      upstreams: { everything: { url: `https://127.0.0.1:${proxy.port}`, ca_file: 'ca.crt' } },
      routes: [{ path_prefix: '/mcp', upstream: 'everything', auth: 'none' }],
    });
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    gatewayUrl = `http://127.0.0.1:${port}/mcp`;
  });
  after(async () => {
    await stopAll();
    await proxy?.close();
    await removeTempDir(dir);
  });

  test('every scenario passing directly passes through the https upstream', { timeout: 420000 }, withLogs(async (t) => {
    const direct = await runConformance(everything.url, join(dir, 'direct'));
    const through = await runConformance(gatewayUrl, join(dir, 'through'));
    const directPassing = passing(direct.results);
    t.diagnostic(`direct: ${directPassing.length} of ${Object.keys(direct.results).length} scenarios pass`);
    t.diagnostic(`through the gateway over TLS: ${passing(through.results).length} of ${Object.keys(through.results).length}`);
    assert.ok(directPassing.length > 0, `the suite ran against server-everything\n${direct.stdout}\n${direct.stderr}`);
    assert.deepEqual(Object.keys(through.results).sort(), Object.keys(direct.results).sort(), 'the same scenarios ran');
    // The gateway may pass more (dns-rebinding-protection: its own Host and
    // Origin checks), never fewer.
    const lost = directPassing.filter((scenario) => !through.results[scenario]);
    assert.deepEqual(lost, [], `scenarios that pass directly but fail through the https upstream\n${through.stdout}`);
    assert.ok(proxy.stats.handshakes > 0, 'the gateway reached server-everything over TLS');
  }));
});
