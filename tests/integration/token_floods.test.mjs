// Token floods (REL-CLI-07, REL-RES-01/02 in docs/security.md): what many requests with tokens
// cost the gateway, read from its own metrics on the admin listener, its
// RSS and its stderr.
//   REL-CLI-07  one valid token on 1 000 concurrent HTTP/2 streams (h2load)
//               plus many HTTP/1.1 connections: at most one signature check
//               per worker, the rest are cache hits.
//   REL-RES-01  tens of thousands of distinct valid tokens: the per-worker
//               cache stays within providers.*.token_cache_size (evicting)
//               and RSS plateaus.
//   REL-RES-02  a flood of invalid tokens (garbage, forged, expired, unknown
//               kid): no signature work for the malformed ones, one per
//               worker for a repeated forged/expired token, per-reason
//               counters, no unknown-kid refetch storm, and a bounded
//               number of stderr lines.
// Tokens are ES256, signed with node:crypto (lib/tokens.mjs generateEs256Key).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { gatewayConfig, launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { floodHttp1, parseH2load, runH2load } from './lib/load.mjs';
import { SANITIZED, rssKiB, sampleDelta, scrapeSamples } from './lib/metrics.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateEs256Key } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.floods.example';
const WORKERS = 2;
// Per worker: small, so that the floods evict many times over.
// MAG_FLOOD_CACHE_SIZE=1000000 shows the RSS check failing without a bound.
const CACHE_SIZE = Number(process.env.MAG_FLOOD_CACHE_SIZE ?? 100);
// The gateway's own rate limit for per-request diagnostics (common/core/log.h).
const LOG_BURST = 10;
const LOG_INTERVAL_S = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('token floods', () => {
  let tmp;
  let upstream;
  let jwks;
  let key;
  let gateway;
  let url;
  let resource;
  let admin;
  let seq = 0;

  const claims = (extra = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, aud: resource, sub: `user-${seq++}`, client_id: 'flood', iat: now, exp: now + 3600, ...extra };
  };
  const metric = (name, labels) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const checks = (result) => metric('mag_token_signature_verifications_total', { provider: 'test', result });
  const lookups = (result) => metric('mag_token_cache_lookups_total', { provider: 'test', result });
  const denied = (reason) => metric('mag_auth_decisions_total', { route: '/mcp', decision: 'deny', reason });
  const bearer = (token) => ({ authorization: `Bearer ${token}` });
  // One ES256 provider with its keys at the JWKS server, `workers` threads,
  // an admin listener: the config of each gateway here.
  const floodConfig = (port, adminPort) => {
    const built = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile: 'unused' });
    delete built.config.providers.test.jwks_file;
    built.config.providers.test.jwks_uri = `http://127.0.0.1:${jwks.port}/jwks`;
    built.config.providers.test.algorithms = ['ES256'];
    built.config.workers = WORKERS;
    built.config.admin = { address: `127.0.0.1:${adminPort}` };
    return built;
  };

  before(async () => {
    tmp = await makeTempDir('mag-floods-');
    upstream = await startEchoUpstream();
    key = generateEs256Key('flood-key');
    jwks = await startJwksServer();
    jwks.setKeys([key]);
    const port = await freePort();
    const adminPort = await freePort();
    let config;
    ({ resource, config } = floodConfig(port, adminPort));
    config.providers.test.token_cache_size = CACHE_SIZE;
    config.access_log = { path: join(tmp, 'access.log') };
    ({ proc: gateway } = await launchGateway(tmp, config));
    url = `http://127.0.0.1:${port}/mcp`;
    admin = `http://127.0.0.1:${adminPort}`;
    const deadline = Date.now() + 10000;
    while ((await httpRequest(`${admin}/ready`).catch(() => ({ status: 0 }))).status !== 200) {
      if (Date.now() > deadline) throw new Error(`gateway not ready\n${gateway.describe()}`);
      await sleep(50);
    }
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await jwks?.close();
    await removeTempDir(tmp);
  });

  test('REL-CLI-07: one token on 1 000 HTTP/2 streams and 40 HTTP/1.1 connections: at most one signature check per worker', withLogs(async (t) => {
    const token = key.jwt(claims());
    const before = await scrapeSamples(admin);
    const h2 = runH2load(['-n', '1000', '-c', '1', '-m', '100', '-H', `authorization: Bearer ${token}`, url]);
    const h1 = floodHttp1(url, Array.from({ length: 400 }), { connections: 40, headersFor: () => bearer(token) });
    const [h2result, h1statuses] = await Promise.all([h2, h1]);
    upstream.requests.length = 0;
    assert.equal(h2result.code, 0, `h2load\n${h2result.stdout}\n${h2result.stderr}`);
    const s = parseH2load(h2result.stdout);
    assert.deepEqual({ done: s.done, s2xx: s.s2xx }, { done: 1000, s2xx: 1000 }, h2result.stdout);
    assert.deepEqual([...h1statuses], [[200, 400]]);

    const after = await scrapeSamples(admin);
    const verified = sampleDelta(before, after, checks('good'));
    const hits = sampleDelta(before, after, lookups('hit'));
    const misses = sampleDelta(before, after, lookups('miss'));
    t.diagnostic(`1400 requests: ${verified} signature checks, ${misses} misses, ${hits} cache hits`);
    assert.ok(verified >= 1 && verified <= WORKERS, `signature checks ${verified}, at most one per worker (${WORKERS})`);
    assert.equal(misses, verified);
    assert.equal(hits + misses, 1400);
    assert.equal(sampleDelta(before, after, checks('bad')), 0);
  }));

  test('REL-CLI-07: 100 HTTP/2 streams and 40 HTTP/1.1 requests waiting for the first JWKS answer: one check per worker', withLogs(async (t) => {
    // A second gateway whose JWKS answers only after 1.5 s: the first 100
    // streams (h2load's -m) and 40 HTTP/1.1 requests wait for the first keys,
    // then are all decided at once; the rest of the 1 000 follow.
    const dir = await makeTempDir('mag-floods-herd-');
    jwks.state.delayMs = 1500;
    try {
      const port = await freePort();
      const adminPort = await freePort();
      const { config } = floodConfig(port, adminPort);
      config.routes[0].resource = resource; // the same audience as the tokens
      config.access_log = 'off';
      const fetchesBefore = jwks.count();
      const { proc } = await launchGateway(dir, config, 'herd.yaml', 'gateway (slow JWKS)');
      const herdUrl = `http://127.0.0.1:${port}/mcp`;
      const token = key.jwt(claims());
      const before = await scrapeSamples(`http://127.0.0.1:${adminPort}`);
      assert.equal(before.get('mag_jwks_keys_loaded{provider="test"}') ?? 0, 0, 'the keys are not there yet');
      const [h2, h1statuses] = await Promise.all([
        runH2load(['-n', '1000', '-c', '1', '-m', '100', '-H', `authorization: Bearer ${token}`, herdUrl]),
        floodHttp1(herdUrl, Array.from({ length: 40 }), { connections: 40, headersFor: () => bearer(token) }),
      ]);
      upstream.requests.length = 0;
      assert.equal(h2.code, 0, `h2load\n${h2.stdout}\n${h2.stderr}`);
      assert.equal(parseH2load(h2.stdout).s2xx, 1000, h2.stdout);
      assert.deepEqual([...h1statuses], [[200, 40]]);
      const after = await scrapeSamples(`http://127.0.0.1:${adminPort}`);
      const verified = sampleDelta(before, after, checks('good'));
      t.diagnostic(`${verified} signature checks, ${sampleDelta(before, after, lookups('hit'))} hits, ${jwks.count() - fetchesBefore} JWKS fetches`);
      assert.ok(verified >= 1 && verified <= WORKERS, `signature checks ${verified}`);
      assert.equal(jwks.count() - fetchesBefore, 1, 'one JWKS fetch for all the waiting streams');
      await proc.stop();
    } finally {
      jwks.state.delayMs = 0;
      await removeTempDir(dir);
    }
  }));

  const FLOOD = 5000;
  test('REL-RES-01: 6 000 distinct valid tokens: the cache stays within its size, RSS plateaus', withLogs(async (t) => {
    const send = async (count) => {
      const tokens = Array.from({ length: count }, () => key.jwt(claims()));
      const statuses = await floodHttp1(url, tokens, { connections: 8, headersFor: bearer });
      upstream.requests.length = 0;
      assert.deepEqual([...statuses], [[200, count]]);
    };
    // Warm-up: the caches fill up (and evict), connections and buffers exist.
    await send(1000);
    const warm = await scrapeSamples(admin);
    const rssWarm = rssKiB(gateway.child.pid);
    const started = Date.now();
    await send(FLOOD);
    const elapsed = (Date.now() - started) / 1000;
    const flooded = await scrapeSamples(admin);
    const rssFlooded = rssKiB(gateway.child.pid);

    const entries = flooded.get(metric('mag_token_cache_entries', { provider: 'test' }));
    const evictions = sampleDelta(warm, flooded, metric('mag_token_cache_evictions_total', { provider: 'test' }));
    const verified = sampleDelta(warm, flooded, checks('good'));
    t.diagnostic(
      `${FLOOD} tokens in ${elapsed.toFixed(1)} s: ${entries} cached (limit ${CACHE_SIZE} x ${WORKERS} workers), ` +
        `${evictions} evictions, RSS ${rssWarm} -> ${rssFlooded} KiB`,
    );
    assert.equal(verified, FLOOD, 'every distinct token is verified once');
    assert.ok(entries > 0 && entries <= CACHE_SIZE * WORKERS, `mag_token_cache_entries ${entries}`);
    // Once a worker's cache is full every insert evicts one entry (a worker
    // that got no connection during the warm-up fills up first).
    assert.ok(evictions >= FLOOD - CACHE_SIZE * WORKERS && evictions <= FLOOD, `evictions ${evictions}`);
    // Without the bound (MAG_FLOOD_CACHE_SIZE=1000000) 5 000 more cached
    // tokens took +4.6 MiB (about 0.9 KiB each: token, claims, LRU and map
    // nodes); bounded, the flood added 20 KiB.
    if (!SANITIZED) {
      assert.ok(rssFlooded <= rssWarm + 1536, `RSS grew from ${rssWarm} to ${rssFlooded} KiB`);
    }
  }));

  test('REL-RES-02: 2 000 invalid tokens: cheap rejections, per-reason counters, bounded stderr', withLogs(async (t) => {
    const N = 500;
    const now = Math.floor(Date.now() / 1000);
    const valid = key.jwt(claims());
    const forged = `${valid.slice(0, valid.lastIndexOf('.'))}.${randomBytes(64).toString('base64url')}`;
    const expired = key.jwt(claims({ iat: now - 7200, exp: now - 3600 }));
    const other = generateEs256Key('flood-unknown');
    const kinds = [
      ['malformed', (i) => `garbage-${i}-${randomBytes(12).toString('hex')}`],
      ['bad_signature', () => forged],
      ['expired', () => expired],
      ['unknown_kid', (i) => other.jwt(claims(), { kid: `unknown-${i}` })],
    ];
    const items = [];
    for (let i = 0; i < N; i++) for (const [reason, make] of kinds) items.push({ reason, token: make(i) });

    const jwksBefore = jwks.count();
    const stderrBefore = gateway.stderr.split('\n').length;
    const before = await scrapeSamples(admin);
    const started = Date.now();
    const statuses = await floodHttp1(url, items, { connections: 8, headersFor: (item) => bearer(item.token) });
    const elapsed = (Date.now() - started) / 1000;
    await sleep(200); // stderr is a pipe: let the last lines arrive
    const after = await scrapeSamples(admin);
    const newLines = gateway.stderr.split('\n').slice(stderrBefore - 1).filter((l) => l !== '');

    assert.deepEqual([...statuses], [[401, 4 * N]]);
    for (const [reason] of kinds) assert.equal(sampleDelta(before, after, denied(reason)), N, `deny ${reason}`);
    // Signature work: one check per worker for the repeated forged token and
    // for the repeated expired one, none for garbage and unknown kids.
    const bad = sampleDelta(before, after, checks('bad'));
    const good = sampleDelta(before, after, checks('good'));
    const negative = sampleDelta(before, after, lookups('negative_hit'));
    assert.ok(bad >= 1 && bad <= WORKERS, `bad-signature checks ${bad}`);
    assert.ok(good >= 1 && good <= WORKERS, `checks of the expired token ${good}`);
    assert.equal(negative, 2 * N - bad - good, 'the rest of the forged and expired requests are negative hits');
    // Unknown kids: at most one JWKS refetch per 30 s window (jwks_uri provider).
    const refetches = jwks.count() - jwksBefore;
    assert.ok(refetches <= 1 + Math.floor(elapsed / 30), `JWKS fetched ${refetches} times during the flood`);

    // stderr: each outcome gets LOG_BURST lines per LOG_INTERVAL_S, then a
    // summary; without the limit this would be 4 × N lines.
    const windows = Math.ceil(elapsed / LOG_INTERVAL_S) + 1;
    const bound = kinds.length * LOG_BURST * windows + 5;
    t.diagnostic(`${4 * N} rejections in ${elapsed.toFixed(1)} s: ${newLines.length} stderr lines (bound ${bound}), ` +
      `${bad} bad + ${good} good signature checks, ${negative} negative hits, ${refetches} JWKS refetches`);
    assert.ok(newLines.length <= bound, `${newLines.length} stderr lines:\n${newLines.slice(0, 50).join('\n')}`);
    for (const [reason] of kinds) {
      assert.ok(newLines.some((l) => l.includes(`-> 401 ${reason}`)), `a line for ${reason} is still written`);
    }
    // (The "(suppressed N similar messages)" summary on the first line after
    // the interval is checked in tests/unit/common/core/test_log.cpp, without the wait.)
    for (const item of items.slice(0, 40)) assert.ok(!gateway.stderr.includes(item.token), 'a token appears on stderr');
  }));
});
