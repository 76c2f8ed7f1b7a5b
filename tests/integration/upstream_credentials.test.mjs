// upstreams.<name>.credentials (docs/upstreams.md "Static credentials"):
// the gateway's own headers for an upstream, against a recording upstream
// over HTTP/1.1 (raw bytes) and h2c (raw frames). The upstream sees exactly
// the configured values, from the environment and from a file, never the
// client's Authorization nor a client-sent copy of a credential header (in
// any case, any number of copies); the file is re-read on SIGHUP; a reload
// that cannot read it keeps the running value and logs why without the
// value; no secret appears in stderr, the access log, /config_dump or
// /stats/prometheus.
import assert from 'node:assert/strict';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { block, data, H2Client, headers as h2Headers } from './lib/h2raw.mjs';
import { freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { rawExchange } from './lib/raw_upstream.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { waitFor } from './lib/timed_load.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.upstream-credentials.example';
const ENV_SECRET = 'env-secret-7f3a9c1e5b';
const FILE_SECRET_1 = 'file-secret-one-41d8e2';
const FILE_SECRET_2 = 'file-secret-two-93b6c0';
const SECRETS = [ENV_SECRET, FILE_SECRET_1, FILE_SECRET_2];

// Every value of the fields named `name` (any case) the upstream received,
// with the name as it was written on the wire.
function fieldsNamed(record, name) {
  const out = [];
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    if (record.rawHeaders[i].toLowerCase() === name) out.push([record.rawHeaders[i], record.rawHeaders[i + 1]]);
  }
  return out;
}

describe('upstream credentials: what the upstream receives', () => {
  let tmp;
  let upstream;
  let gateway;
  let port;
  let adminOrigin;
  let accessLog;
  let tokenFile;
  let clientToken;
  let fileSecret = FILE_SECRET_1;

  const reloads = () => (gateway.stderr.match(/configuration reloaded/g) ?? []).length;
  const refusals = () => (gateway.stderr.match(/configuration refused/g) ?? []).length;
  // Replaces the token file whole (write + rename), as a secret store does.
  async function writeTokenFile(content) {
    await writeFile(`${tokenFile}.next`, content);
    await rename(`${tokenFile}.next`, tokenFile);
  }

  before(async () => {
    tmp = await makeTempDir('mag-upstream-credentials-');
    upstream = await startEchoUpstream();
    const key = await generateSigningKey('creds-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    tokenFile = join(tmp, 'upstream-token');
    await writeTokenFile(`${FILE_SECRET_1}\n`);
    port = await freePort();
    const adminPort = await freePort();
    adminOrigin = `http://127.0.0.1:${adminPort}`;
    accessLog = join(tmp, 'access.log');
    const resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      log_level: 'debug',
      access_log: { path: accessLog, format: 'json' },
      providers: { test: { issuer: ISSUER, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
      upstreams: {
        backend: {
          url: upstream.origin,
          credentials: {
            headers: {
              Authorization: 'Bearer ${MAG_IT_UPSTREAM_TOKEN}',
              'X-API-Key': { file: 'upstream-token', prefix: 'Key ' },
            },
          },
        },
      },
      routes: [
        { path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['test'] } },
        { path_prefix: '/open', upstream: 'backend', auth: 'none' },
      ],
    });
    gateway = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], {
      env: { MAG_IT_UPSTREAM_TOKEN: ENV_SECRET },
    });
    clientToken = await mintToken(key, { iss: ISSUER, aud: resource, sub: 'alice', scope: 'mcp:access' });
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  // The credential fields of the last upstream request, as the upstream saw them.
  function assertCredentials(record, label) {
    assert.deepEqual(fieldsNamed(record, 'authorization'), [['Authorization', `Bearer ${ENV_SECRET}`]], label);
    assert.deepEqual(fieldsNamed(record, 'x-api-key'), [['X-API-Key', `Key ${fileSecret}`]], label);
    const wire = record.rawHeaders.join('\n');
    assert.ok(!wire.includes(clientToken.split('.')[2]), `${label}: the client's token reached the upstream`);
    assert.ok(!/client-copy|forged/.test(wire), `${label}: a client copy reached the upstream:\n${wire}`);
  }

  // One POST over raw HTTP/1.1 bytes with `extra` header lines; returns the upstream's record.
  async function postHttp1(path, extra) {
    const body = initializeBody();
    const before = upstream.requests.length;
    const request =
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${extra.map(([n, v]) => `${n}: ${v}\r\n`).join('')}Connection: close\r\n\r\n${body}`;
    const res = await rawExchange(port, request, { untilFinal: true });
    assert.deepEqual(res.statuses, [200], res.text.slice(0, 400));
    await upstream.waitForRequests(before + 1);
    return upstream.requests[before];
  }

  // The same over h2c, raw frames (lower-case names, as HTTP/2 requires).
  async function postH2(path, extra) {
    const before = upstream.requests.length;
    const c = await H2Client.connect(port);
    try {
      const fields = [[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', `127.0.0.1:${port}`],
        ['content-type', 'application/json'], ['accept', 'application/json, text/event-stream'], ...extra];
      c.send(Buffer.concat([h2Headers(1, block(fields)), data(1, initializeBody(), true)]));
      await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
      assert.deepEqual(c.streamOutcome(1), { status: 200 });
    } finally {
      c.close();
    }
    await upstream.waitForRequests(before + 1);
    return upstream.requests[before];
  }

  const SPOOF_HTTP1 = [
    ['X-API-Key', 'client-copy-1'],
    ['x-api-key', 'client-copy-2'],
    ['X-API-KEY', 'client-copy-3'],
    ['x-Api-kEY', 'client-copy-4'],
  ];
  const SPOOF_H2 = [
    ['x-api-key', 'client-copy-1'],
    ['x-api-key', 'client-copy-2'],
  ];

  test('HTTP/1.1: the configured headers, from env and file, replace every client copy', withLogs(async () => {
    const record = await postHttp1('/mcp', [['Authorization', `Bearer ${clientToken}`], ...SPOOF_HTTP1]);
    assertCredentials(record, 'protected route');
    // A public route: the client's own Authorization goes nowhere either.
    const open = await postHttp1('/open', [['AUTHORIZATION', 'Bearer forged-by-client'], ...SPOOF_HTTP1]);
    assertCredentials(open, 'public route');
  }));

  test('HTTP/2: the configured headers replace duplicate client copies', withLogs(async () => {
    assertCredentials(await postH2('/mcp', [['authorization', `Bearer ${clientToken}`], ...SPOOF_H2]), 'protected route');
    assertCredentials(await postH2('/open', [['authorization', 'Bearer forged-by-client'], ...SPOOF_H2]), 'public route');
  }));

  test('SIGHUP re-reads the file: the next request carries the new value', withLogs(async () => {
    const before = reloads();
    await writeTokenFile(`${FILE_SECRET_2}\n`);
    gateway.child.kill('SIGHUP');
    await waitFor(() => reloads() > before, 'the reload');
    fileSecret = FILE_SECRET_2;
    assertCredentials(await postHttp1('/mcp', [['Authorization', `Bearer ${clientToken}`]]), 'after the reload');
    assertCredentials(await postH2('/open', SPOOF_H2), 'after the reload, h2');
  }));

  test('a reload that cannot read the file keeps the running value and says why, without it', withLogs(async () => {
    await rm(tokenFile);
    const before = refusals();
    gateway.child.kill('SIGHUP');
    await waitFor(() => refusals() > before, 'the refusal');
    const line = gateway.stderr.split('\n').filter((l) => l.includes('configuration refused')).at(-1);
    assert.match(line, /upstreams\.backend\.credentials\.headers\.X-API-Key\.file: cannot open '[^']*upstream-token': No such file or directory/);
    assertCredentials(await postHttp1('/mcp', [['Authorization', `Bearer ${clientToken}`], ...SPOOF_HTTP1]), 'after the refused reload');
    // A file that is there again is read at the next reload.
    await writeTokenFile(`${FILE_SECRET_1}\n`);
    const reloaded = reloads();
    gateway.child.kill('SIGHUP');
    await waitFor(() => reloads() > reloaded, 'the reload');
    fileSecret = FILE_SECRET_1;
    assertCredentials(await postH2('/mcp', [['authorization', `Bearer ${clientToken}`]]), 'file back');
  }));

  test('no secret in stderr, the access log, /config_dump or /stats/prometheus', withLogs(async () => {
    const dump = await httpRequest(`${adminOrigin}/config_dump`);
    assert.equal(dump.status, 200);
    const credentials = JSON.parse(dump.body).upstreams.backend.credentials;
    assert.deepEqual(credentials, {
      headers: { Authorization: '[redacted]', 'X-API-Key': { file: tokenFile, prefix: '[redacted]' } },
    });
    const metrics = await httpRequest(`${adminOrigin}/stats/prometheus`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /mag_config_reloads_total\{result="failure"\} 1/);
    // One line per request the upstream answered.
    const lines = async () => (await readFile(accessLog, 'utf8')).trim().split('\n').length;
    await waitFor(async () => (await lines()) >= upstream.requests.length, 'one access log line per request');
    const places = {
      stderr: gateway.stderr,
      stdout: gateway.stdout,
      'access log': await readFile(accessLog, 'utf8'),
      '/config_dump': dump.body,
      '/stats/prometheus': metrics.body,
    };
    for (const [where, text] of Object.entries(places)) {
      for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains a secret`);
    }
    assert.ok(gateway.stderr.includes('debug'), 'the gateway logged at debug level');
  }));
});
