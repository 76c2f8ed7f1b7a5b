// access_log.identity (docs/operations.md "Personal data in the
// access log"): the token's sub and client_id written plain, as a keyed hash
// (checked against node:crypto's HMAC-SHA-256, an implementation independent
// of the gateway's OpenSSL call) or left out — in the log lines a real gateway
// writes for real requests. In every mode no token appears anywhere.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.identity.example';
const ALICE = 'alice@identity.example';
const BOB = 'bob@identity.example';
const CLIENT = 'identity-client';
const KEY = 'k3y-for-the-access-log-identity-test';

const hmac = (key, value) => createHmac('sha256', key).update(value).digest('hex').slice(0, 32);

async function waitFor(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('access log identity: plain, hash, omit', () => {
  let tmp;
  let upstream;
  let key;
  let jwksFile;
  const tokens = [];

  before(async () => {
    tmp = await makeTempDir('mag-identity-');
    upstream = await startEchoUpstream();
    key = await generateSigningKey('identity-key');
    jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  // A gateway whose access log has `accessLog` settings; `run()` sends alice
  // twice, bob once and one request without a token, and returns the lines.
  async function gatewayWith(name, accessLog) {
    const port = await freePort();
    const logPath = join(tmp, `${name}.log`);
    const { resource, config } = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile });
    config.admin = { address: '' };
    config.access_log = { path: logPath, ...accessLog };
    const configPath = await writeConfig(tmp, config, `${name}.yaml`);
    const proc = await startProcess(name, requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    const post = async (sub, requestId) => {
      const headers = { ...MCP_POST_HEADERS, 'x-request-id': requestId };
      if (sub) {
        const token = await mintToken(key, { iss: ISSUER, aud: resource, sub, claims: { client_id: CLIENT } });
        tokens.push(token);
        headers.authorization = `Bearer ${token}`;
      }
      const res = await httpRequest(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers, body: initializeBody() });
      assert.equal(res.status, sub ? 200 : 401, `${name} ${requestId}: ${res.body}`);
    };
    const text = async () => readFile(logPath, 'utf8').catch(() => '');
    const run = async (tag = '') => {
      // Ids without the users' names: the log must not contain those.
      const ids = ['a1', 'a2', 'b1', 'none'].map((n) => `${name}${tag}-${n}`);
      await post(ALICE, ids[0]);
      await post(ALICE, ids[1]);
      await post(BOB, ids[2]);
      await post(undefined, ids[3]);
      await waitFor(async () => (await text()).includes(ids[3]), `${name}: the line of the last request`);
      return { text: await text(), ids };
    };
    return { proc, run, text };
  }

  // The JSON records of one run, by role.
  function records({ text, ids }) {
    const byId = new Map(text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).map((r) => [r.request_id, r]));
    const [alice1, alice2, bob, anonymous] = ids.map((id) => {
      assert.ok(byId.has(id), `a line for ${id}`);
      return byId.get(id);
    });
    assert.equal(alice1.auth, 'allow');
    assert.equal(anonymous.auth, 'deny');
    return { alice1, alice2, bob, anonymous };
  }

  function assertNoToken(text, proc) {
    const everything = text + proc.stdout + proc.stderr;
    assert.ok(tokens.length > 0);
    for (const t of tokens) {
      assert.ok(!everything.includes(t), 'a token appears in the gateway output');
      assert.ok(!everything.includes(t.split('.')[2]), 'a token signature appears in the gateway output');
    }
  }

  test('plain (default): sub and client_id as the token carries them', withLogs(async () => {
    const gw = await gatewayWith('plain', {});
    const run = await gw.run();
    const { alice1, bob, anonymous } = records(run);
    assert.equal(alice1.sub, ALICE);
    assert.equal(alice1.client_id, CLIENT);
    assert.equal(bob.sub, BOB);
    assert.equal(anonymous.sub, null);
    assertNoToken(run.text, gw.proc);
  }));

  test('hash with identity_key: HMAC-SHA-256 truncated, stable per user, no subject in the log', withLogs(async () => {
    const gw = await gatewayWith('hash-keyed', { identity: 'hash', identity_key: KEY });
    const run = await gw.run();
    const { alice1, alice2, bob, anonymous } = records(run);
    assert.equal(alice1.sub, hmac(KEY, ALICE));
    assert.equal(alice1.client_id, hmac(KEY, CLIENT));
    assert.equal(alice2.sub, alice1.sub, 'the same user correlates');
    assert.equal(bob.sub, hmac(KEY, BOB));
    assert.notEqual(bob.sub, alice1.sub);
    assert.equal(anonymous.sub, null, 'no token stays null');
    assert.equal(anonymous.client_id, null);
    for (const clear of [ALICE, BOB, CLIENT, 'alice', 'bob']) assert.ok(!run.text.includes(clear), `'${clear}' in the log`);
    assertNoToken(run.text, gw.proc);

    // Another process with the same key gives the same values (replicas, restarts).
    const twin = await gatewayWith('hash-keyed-twin', { identity: 'hash', identity_key: KEY });
    assert.equal(records(await twin.run()).alice1.sub, alice1.sub);
  }));

  test('hash without a key: a random key per process, kept across SIGHUP, new in another process', withLogs(async () => {
    const gw = await gatewayWith('hash-random', { identity: 'hash' });
    const first = records(await gw.run());
    assert.match(first.alice1.sub, /^[0-9a-f]{32}$/);
    assert.equal(first.alice2.sub, first.alice1.sub);
    assert.notEqual(first.bob.sub, first.alice1.sub);
    assert.notEqual(first.alice1.sub, hmac('', ALICE));
    assert.notEqual(first.alice1.sub, hmac(KEY, ALICE));

    gw.proc.child.kill('SIGHUP');
    await waitFor(async () => gw.proc.stderr.includes('configuration reloaded'), 'the reload in the log');
    const afterReload = records(await gw.run('-reloaded'));
    assert.equal(afterReload.alice1.sub, first.alice1.sub, 'the same hash after a config reload');

    const other = await gatewayWith('hash-random-other', { identity: 'hash' });
    const otherRun = await other.run();
    assert.notEqual(records(otherRun).alice1.sub, first.alice1.sub, 'another process has another key');
    const text = await gw.text();
    for (const clear of [ALICE, BOB, CLIENT]) assert.ok(!text.includes(clear) && !otherRun.text.includes(clear));
    assertNoToken(text, gw.proc);
  }));

  test('omit: the fields are absent; per field: sub hashed, client_id plain', withLogs(async () => {
    const omit = await gatewayWith('omit', { identity: 'omit' });
    const run = await omit.run();
    const r = records(run);
    for (const rec of Object.values(r)) {
      assert.ok(!('sub' in rec) && !('client_id' in rec), JSON.stringify(rec));
    }
    for (const clear of [ALICE, BOB, CLIENT]) assert.ok(!run.text.includes(clear));
    assertNoToken(run.text, omit.proc);

    const mixed = await gatewayWith('per-field', { identity: { sub: 'hash', client_id: 'plain' }, identity_key: KEY });
    const mixedRun = await mixed.run();
    const m = records(mixedRun);
    assert.equal(m.alice1.sub, hmac(KEY, ALICE));
    assert.equal(m.alice1.client_id, CLIENT);
    assert.ok(!mixedRun.text.includes(ALICE));
    assertNoToken(mixedRun.text, mixed.proc);
  }));

  test('text format: hashed and omitted columns', withLogs(async () => {
    const hashed = await gatewayWith('text-hash', { format: 'text', identity: 'hash', identity_key: KEY });
    const run = await hashed.run();
    const line = run.text.split('\n').find((l) => l.includes(run.ids[0]));
    assert.ok(line.includes(` sub=${hmac(KEY, ALICE)} client_id=${hmac(KEY, CLIENT)}`), line);
    assert.ok(!run.text.includes(ALICE));
    const anonymous = run.text.split('\n').find((l) => l.includes(run.ids[3]));
    assert.ok(anonymous.includes(' sub=- client_id=-'), anonymous);

    const omitted = await gatewayWith('text-omit', { format: 'text', identity: 'omit' });
    const omittedRun = await omitted.run();
    const omittedLine = omittedRun.text.split('\n').find((l) => l.includes(omittedRun.ids[0]));
    assert.ok(!omittedLine.includes(' sub=') && !omittedLine.includes(' client_id='), omittedLine);
    assertNoToken(run.text + omittedRun.text, omitted.proc);
  }));

  test('--check-config: a bad mode and a short key are refused with file:line:col', async () => {
    const base = 'listeners: [{address: "127.0.0.1:8000"}]\nupstreams: {u: {url: "http://127.0.0.1:9000"}}\nroutes: [{path_prefix: /mcp, upstream: u, auth: none}]\n';
    const cases = [
      ['bad-mode.yaml', 'access_log:\n  identity: hashed\n', /bad-mode\.yaml:5:13: access_log\.identity: 'hashed' is not one of plain, hash, omit/],
      ['short-key.yaml', 'access_log:\n  identity: hash\n  identity_key: short\n', /short-key\.yaml:6:17: access_log\.identity_key: must be at least 16 bytes/],
      ['key-unused.yaml', `access_log:\n  identity: {sub: omit}\n  identity_key: ${KEY}\n`, /key-unused\.yaml:6:3: access_log\.identity_key: is only used with identity: hash/],
    ];
    for (const [file, extra, expected] of cases) {
      const path = join(tmp, file);
      await writeFile(path, base + extra);
      const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--check-config', path]);
      assert.notEqual(r.code, 0, `${file} accepted`);
      assert.match(r.stderr, expected);
    }
  });
});
