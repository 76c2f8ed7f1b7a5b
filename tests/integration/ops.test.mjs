// Operating the gateway: the admin listener, Prometheus metrics
// (checked by promtool, Prometheus's own parser), the access log and hot
// reload on SIGHUP.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.ops.example';
const OTHER_ISSUER = 'https://other-issuer.ops.example';

// Prometheus text exposition → Map("name{labels}" → number), through promtool
// for validation first. Labels are kept in the order the gateway prints them.
function parseSamples(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

function promtoolCheck(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not runnable (scripts/setup installs the prometheus package): ${r.error.message}`);
  return r;
}

// Every value of the config as written appears at the same key path of
// /config_dump, with the same JSON type (durations are seconds in both).
// The one form the loader changes: `auth: 'none'` is {enabled: false}.
function assertDumpHas(dump, written, path = '') {
  if (Array.isArray(written)) {
    assert.ok(Array.isArray(dump), `${path}: not a list in the dump`);
    assert.equal(dump.length, written.length, `${path}: length`);
    written.forEach((item, i) => assertDumpHas(dump[i], item, `${path}[${i}]`));
  } else if (written !== null && typeof written === 'object') {
    assert.ok(dump !== null && typeof dump === 'object', `${path}: not a map in the dump`);
    for (const [key, value] of Object.entries(written)) {
      const where = path ? `${path}.${key}` : key;
      assert.ok(Object.hasOwn(dump, key), `${where}: missing from the dump`);
      if (key === 'auth' && value === 'none') assert.equal(dump[key].enabled, false, where);
      else assertDumpHas(dump[key], value, where);
    }
  } else {
    assert.equal(dump, written, path);
  }
}

async function waitFor(predicate, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('operations: admin, metrics, access log, reload', () => {
  let tmp;
  let upstream;
  let key;
  let gateway;
  let port;
  let adminPort;
  let configPath;
  let accessLogPath;
  let config;
  let resource;
  const tokens = [];

  const post = (headers = {}) =>
    httpRequest(`http://127.0.0.1:${port}/mcp?secret_query=1`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...headers },
      body: initializeBody(1),
    });
  const admin = (path) => httpRequest(`http://127.0.0.1:${adminPort}${path}`);
  const scrape = async () => {
    const res = await admin('/stats/prometheus');
    assert.equal(res.status, 200);
    return res.body;
  };
  const mint = async (claims) => {
    const t = await mintToken(key, { iss: ISSUER, aud: resource, sub: 'alice-ops', claims: { client_id: 'ops-client' }, ...claims });
    tokens.push(t);
    return t;
  };

  before(async () => {
    tmp = await makeTempDir();
    upstream = await startEchoUpstream();
    key = await generateSigningKey('ops-key');
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    port = await freePort();
    adminPort = await freePort();
    accessLogPath = join(tmp, 'access.log');
    ({ resource, config } = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile }));
    config.admin = { address: `127.0.0.1:${adminPort}` };
    config.access_log = { path: accessLogPath, format: 'json' };
    // The verified-token cache is per worker thread: the "same token twice is
    // a cache hit" count below needs both requests on one worker. Several
    // workers are covered by workers.test.mjs.
    config.workers = 1;
    // An upstream nobody listens on, behind an open route: connect failures.
    config.upstreams.dead = { url: `http://127.0.0.1:${await freePort()}` };
    config.routes.push({ path_prefix: '/dead', upstream: 'dead', auth: 'none' });
    // Rules and overrides the requests below never meet, for /config_dump.
    config.routes[0].auth.tools = { drop_table: 'deny', add: [] };
    config.routes[0].auth.methods = { 'resources/read': 'deny', '*': [] };
    config.routes[0].timeouts = { idle_timeout: 120 };
    config.drain_timeout = 5;
    config.authz = { unknown_sessions: 'refuse', max_inspected_body: 65536 };
    configPath = await writeConfig(tmp, config);
    gateway = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    await waitFor(async () => gateway.stderr.includes('admin interface on'), 'the admin listener');
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  test('admin endpoints live on their own listener, not on the public one', withLogs(async () => {
    assert.equal((await admin('/healthz')).status, 200);
    const ready = await admin('/ready');
    assert.equal(ready.status, 200, ready.body);
    assert.equal(JSON.parse(ready.body).providers.test.ready, true);
    const jwks = JSON.parse((await admin('/jwks_status')).body);
    assert.deepEqual(jwks.providers.test.keys.map((k) => k.kid), ['ops-key']);
    assert.equal(jwks.providers.test.last_result, 'ok');
    const dump = JSON.parse((await admin('/config_dump')).body);
    assert.equal(dump.routes[0].resource, resource);
    assertDumpHas(dump, config);
    assert.equal(dump.routes[0].auth.tools.drop_table, 'deny');
    assert.equal(dump.routes[0].auth.methods['resources/read'], 'deny');
    // Filled in: the upstream's connect timeout where the route sets none.
    assert.equal(dump.routes[0].timeouts.connect_timeout, dump.upstreams.backend.connect_timeout);
    for (const path of ['/stats/prometheus', '/ready', '/config_dump']) {
      const res = await httpRequest(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, 404, `${path} must not be served on the public listener`);
    }
  }));

  test('metrics pass promtool and count a scripted set of requests', withLogs(async () => {
    const before = parseSamples(await scrape());
    const good = await mint({});
    const wrongAudience = await mint({ aud: 'https://elsewhere.example/mcp' });
    assert.equal((await post({ authorization: `Bearer ${good}` })).status, 200);
    assert.equal((await post({ authorization: `Bearer ${good}` })).status, 200);
    assert.equal((await post()).status, 401);
    assert.equal((await post({ authorization: `Bearer ${wrongAudience}` })).status, 401);
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/dead/x?token=zzz`)).status, 502);

    const text = await scrape();
    const check = promtoolCheck(text);
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}`);
    const after = parseSamples(text);
    const delta = (name) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.equal(delta('mag_requests_total{route="/mcp",method="POST",status_class="2xx"}'), 2);
    assert.equal(delta('mag_requests_total{route="/mcp",method="POST",status_class="4xx"}'), 2);
    assert.equal(delta('mag_auth_decisions_total{route="/mcp",decision="allow",reason="ok"}'), 2);
    assert.equal(delta('mag_auth_decisions_total{route="/mcp",decision="deny",reason="no_credentials"}'), 1);
    assert.equal(delta('mag_auth_decisions_total{route="/mcp",decision="deny",reason="wrong_audience"}'), 1);
    assert.equal(delta('mag_request_duration_seconds_count{route="/mcp"}'), 4);
    assert.equal(delta('mag_requests_total{route="/dead",method="GET",status_class="5xx"}'), 1);
    assert.equal(delta('mag_upstream_errors_total{upstream="dead",kind="connect_failed"}'), 1);
    assert.equal(delta('mag_upstream_duration_seconds_count{route="/mcp"}'), 2);
    assert.equal(after.get('mag_jwks_keys_loaded{provider="test"}'), 1);
    // The same token twice: verified once, then served from the cache.
    assert.ok(delta('mag_token_cache_lookups_total{provider="test",result="hit"}') >= 1);
    assert.ok(delta('mag_token_cache_lookups_total{provider="test",result="miss"}') >= 1);
    assert.ok(after.get('mag_token_cache_entries{provider="test"}') >= 1);
    // Two requests went upstream on keep-alive connections: one is idle now.
    assert.equal(after.get('mag_upstream_connections_active{upstream="backend"}'), 0);
    assert.ok(after.get('mag_upstream_connections_idle{upstream="backend"}') >= 1);
    assert.equal(after.get('mag_downstream_streams_active'), 0);
    // Bounded labels: no query string, subject or token in any series.
    for (const name of after.keys()) {
      assert.ok(!name.includes('secret_query') && !name.includes('alice-ops'), name);
      for (const t of tokens) assert.ok(!name.includes(t.slice(0, 20)), 'token in a label');
    }
  }));

  test('access log: JSON lines, request id seen upstream, never a token', withLogs(async () => {
    const good = await mint({});
    const given = 'it-request-42';
    upstream.requests.length = 0;
    assert.equal((await post({ authorization: `Bearer ${good}`, 'x-request-id': given })).status, 200);
    assert.equal(upstream.last().headers['x-request-id'], given);
    assert.equal((await post({ authorization: `Bearer ${good}`, 'x-request-id': 'bad id\twith tab' })).status, 200);
    const generated = upstream.last().headers['x-request-id'];
    assert.match(generated, /^[0-9a-f]{32}$/);

    let lines;
    await waitFor(async () => {
      lines = (await readFile(accessLogPath, 'utf8')).split('\n').filter((l) => l !== '');
      return lines.some((l) => l.includes(generated));
    }, 'the access-log line of the second request');
    const records = lines.map((l) => JSON.parse(l));
    const mine = records.find((r) => r.request_id === given);
    assert.ok(mine, 'a line carries the client-supplied request id');
    assert.equal(mine.route, '/mcp');
    assert.equal(mine.method, 'POST');
    assert.equal(mine.path, '/mcp', 'path without the query');
    assert.equal(mine.status, 200);
    assert.equal(mine.sub, 'alice-ops');
    assert.equal(mine.client_id, 'ops-client');
    assert.equal(mine.auth, 'allow');
    assert.ok(mine.bytes_sent > 0);
    assert.equal(typeof mine.duration_ms, 'number');
    assert.equal(typeof mine.upstream_ms, 'number');
    assert.ok(records.some((r) => r.request_id === generated));
    assert.ok(records.some((r) => r.auth === 'deny' && r.auth_reason === 'wrong_audience'));

    const everything = (await readFile(accessLogPath, 'utf8')) + gateway.stdout + gateway.stderr;
    assert.ok(tokens.length >= 3);
    for (const t of tokens) {
      assert.ok(!everything.includes(t), 'a token appears in the gateway output');
      assert.ok(!everything.includes(t.split('.')[2]), 'a token signature appears in the gateway output');
    }
  }));

  test('SIGHUP reload: new scopes and issuer are applied; a broken file is refused', withLogs(async () => {
    const token = await mint({});
    assert.equal((await post({ authorization: `Bearer ${token}` })).status, 200);

    // 1. Scopes: a token without the new scope is refused (403
    // insufficient_scope), one with it passes; the challenge and the PRM
    // advertise the new scope.
    config.routes[0].auth.scopes = ['ops:write'];
    await writeConfig(tmp, config);
    gateway.child.kill('SIGHUP');
    await waitFor(async () => (await post({ authorization: `Bearer ${token}` })).status === 403, 'the reloaded scopes');
    const refused = await post({ authorization: `Bearer ${token}` });
    assert.match(refused.headers['www-authenticate'], /insufficient_scope/);
    assert.match(refused.headers['www-authenticate'], /scope="ops:write"/);
    const scoped = await mint({ scope: 'ops:write' });
    assert.equal((await post({ authorization: `Bearer ${scoped}` })).status, 200);
    const prm = JSON.parse((await httpRequest(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)).body);
    assert.deepEqual(prm.scopes_supported, ['ops:write']);

    // 2. The decision: tokens of the old issuer are refused after the reload.
    config.providers.test.issuer = OTHER_ISSUER;
    await writeConfig(tmp, config);
    gateway.child.kill('SIGHUP');
    await waitFor(async () => (await post({ authorization: `Bearer ${scoped}` })).status === 401, 'the new issuer');
    const denied = await post({ authorization: `Bearer ${scoped}` });
    assert.match(denied.headers['www-authenticate'], /invalid_token/);
    // What the dump shows is the reloaded config.
    assertDumpHas(JSON.parse((await admin('/config_dump')).body), config);

    // 3. Broken YAML: refused, the process lives, the last good config serves.
    const before = parseSamples(await scrape());
    await writeFile(configPath, 'listeners: [ {address: \n  - : : broken');
    gateway.child.kill('SIGHUP');
    await waitFor(async () => gateway.stderr.includes('configuration refused'), 'the refusal in the log');
    assert.ok(gateway.running, 'the gateway survived the broken file');
    assert.equal((await post({ authorization: `Bearer ${scoped}` })).status, 401, 'old-issuer tokens still refused');
    const otherToken = await mintToken(key, { iss: OTHER_ISSUER, aud: resource, scope: 'ops:write' });
    tokens.push(otherToken);
    assert.equal((await post({ authorization: `Bearer ${otherToken}` })).status, 200, 'the last good config serves');
    const afterBroken = parseSamples(await scrape());
    assert.equal(
      (afterBroken.get('mag_config_reloads_total{result="failure"}') ?? 0) - (before.get('mag_config_reloads_total{result="failure"}') ?? 0),
      1,
    );
    assert.equal(afterBroken.get('mag_config_last_reload_successful'), 0);
    assert.equal(afterBroken.get('mag_config_reloads_total{result="success"}'), 2);
    // The 403 of the scope check is a deny in the metrics and the access log.
    assert.ok(afterBroken.get('mag_auth_decisions_total{route="/mcp",decision="deny",reason="insufficient_scope"}') >= 1);
    const lines = (await readFile(accessLogPath, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    assert.ok(lines.some((r) => r.status === 403 && r.auth === 'deny' && r.auth_reason === 'insufficient_scope'));
  }));
});
