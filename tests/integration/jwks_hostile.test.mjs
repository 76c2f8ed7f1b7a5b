// Hostile key sets under load (catalogue: docs/security.md), against real
// gateway processes with `workers: 2` and JWKS servers on loopback:
// - REL-JWKS-13: the JWKS reuses a kid for new key material. Once the
//   refresh is in, the old key's tokens get 401 although both workers had
//   them in their verified-token caches, and the new key's tokens get 200;
//   under load on several connections no request sees the old set after
//   another one has seen the new one.
// - REL-JWKS-14: the JWKS answers the other of two sets on every fetch
//   (unknown-kid refetch, then the refresh timer): each answer is the one of
//   a set that was installed while the request ran; no crash, no fd leak.
// - REL-JWKS-17: the JWKS host does not resolve (a name under .invalid,
//   RFC 6761): /jwks_status and /ready say why, tokens get 401 "No signing
//   keys are available", retries back off (1 s, 2 s, 4 s), other providers
//   on 127.0.0.2 and on `localhost` work. (Keys kept when a name that did
//   resolve stops resolving cannot be staged here: the gateway's resolver
//   reads /etc/resolv.conf and /etc/hosts only. It is the same failed fetch
//   as REL-JWKS-02..08, whose kept keys tokens_jwks.test.mjs checks.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { SANITIZED, parseSamples } from './lib/metrics.mjs';
import { fdCensus, quietCensus, sleep, startLoad, timedPost, waitFor } from './lib/timed_load.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, withKid } from './lib/tokens.mjs';

const ISSUER = 'http://127.0.0.1/jwks-hostile';

function description(res) {
  return /error_description="([^"]*)"/.exec(res.headers?.['www-authenticate'] ?? '')?.[1];
}

// A gateway with `workers: 2`, an admin listener and one route per entry of
// `routes` ({ path, providers }), each with its own resource.
async function startGatewayFor(tmp, name, providers, routes, upstream) {
  const port = await freePort();
  const adminPort = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = {
    workers: 2,
    listeners: [{ address: `127.0.0.1:${port}` }],
    admin: { address: `127.0.0.1:${adminPort}` },
    access_log: 'off',
    providers,
    upstreams: { backend: { url: upstream.origin } },
    routes: routes.map(({ path, providers: names }) => ({
      path_prefix: path,
      upstream: 'backend',
      resource: `${origin}${path}`,
      auth: { providers: names },
    })),
  };
  const { proc } = await launchGateway(tmp, config, `${name}.yaml`, name);
  const admin = async (path) => httpRequest(`http://127.0.0.1:${adminPort}${path}`);
  const perWorker = async () => {
    const m = parseSamples((await admin('/stats/prometheus')).body);
    return [0, 1].map((w) => m.get(`mag_worker_requests_total{worker="${w}"}`) ?? 0);
  };
  return { proc, port, origin, admin, perWorker, url: (path = '/mcp') => `${origin}${path}`, resource: (path = '/mcp') => `${origin}${path}` };
}

// `count` requests, each on a new connection (so both workers get some).
async function fresh(url, token, count) {
  return Promise.all(Array.from({ length: count }, () => timedPost(url, { agent: false, token })));
}

describe('hostile JWKS: kid reuse, flipping sets, DNS failure', () => {
  let tmp;
  let upstream;
  let pool; // four RSA key materials, given kids per test (withKid)

  before(async () => {
    tmp = await makeTempDir('mag-jwks-hostile-');
    upstream = await startEchoUpstream();
    pool = await Promise.all([0, 1, 2, 3].map((i) => generateSigningKey(`pool-${i}`)));
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  test('REL-JWKS-13: a kid reused for new material replaces the old key on both workers, atomically', { timeout: 60000 }, withLogs(async (t) => {
    const jwks = await startJwksServer();
    try {
      // Both kids of the set get new material at once.
      const oldKey = withKid(pool[0], 'reused');
      const newKey = withKid(pool[1], 'reused'); // same kid, other material
      const oldSecond = withKid(pool[2], 'second');
      const newSecond = withKid(pool[3], 'second');
      jwks.setKeys([oldKey, oldSecond]);
      const gw = await startGatewayFor(tmp, 'gw-kid-reuse', {
        idp: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'] },
      }, [{ path: '/mcp', providers: ['idp'] }], upstream);
      const oldToken = await mintToken(oldKey, { iss: ISSUER, aud: gw.resource() });
      const newToken = await mintToken(newKey, { iss: ISSUER, aud: gw.resource() });
      const mixed = [
        { token: oldToken, tag: 'old' },
        { token: await mintToken(newSecond, { iss: ISSUER, aud: gw.resource() }), tag: 'new' },
        { token: newToken, tag: 'new' },
        { token: await mintToken(oldSecond, { iss: ISSUER, aud: gw.resource() }), tag: 'old' },
      ];

      // Both workers verify the old token and keep it in their caches.
      const [w0, w1] = await gw.perWorker();
      const warm = await fresh(gw.url(), oldToken, 30);
      for (const r of warm) assert.equal(r.status, 200, r.body);
      const [a0, a1] = await gw.perWorker();
      t.diagnostic(`warm-up requests per worker: ${a0 - w0} / ${a1 - w1}`);
      assert.ok(a0 > w0 && a1 > w1, 'both workers verified (and cached) the old token');
      const before = parseSamples((await gw.admin('/stats/prometheus')).body);
      assert.ok((before.get('mag_token_cache_lookups_total{provider="idp",result="hit"}') ?? 0) >= 1, 'cache hits on the old token');
      const early = await timedPost(gw.url(), { agent: false, token: newToken });
      assert.equal(early.status, 401);
      assert.equal(description(early), 'The token signature is invalid', 'the same kid does not trigger a refetch');

      // Load on 6 keep-alive connections, tokens of both kids in both
      // materials, while the set changes: a half-updated set would accept
      // an old and a new token at the same time.
      const load = startLoad({ url: gw.url(), connections: 6, pick: (n) => mixed[n % mixed.length] });
      await sleep(500);
      jwks.setKeys([newKey, newSecond]);
      const fetches = jwks.count();
      // A token with an unknown kid makes the gateway refetch now (the
      // first on-demand refetch is never rate-limited).
      const stranger = withKid(pool[0], 'not-in-any-set');
      const trigger = await timedPost(gw.url(), { agent: false, token: await mintToken(stranger, { iss: ISSUER, aud: gw.resource() }) });
      assert.equal(trigger.status, 401);
      assert.equal(jwks.count(), fetches + 1, 'one refetch');
      await waitFor(() => jwks.state.served.at(-1).at, 'the refetch to be answered');
      const servedAt = jwks.state.served.at(-1).at;
      await sleep(1500);
      const results = await load.stop();

      const bad = results.filter((r) => r.status !== 200 && r.status !== 401);
      assert.deepEqual(bad.map((r) => `${r.status} ${r.error ?? r.body}`), [], 'only 200 and 401');
      // Before the new set was sent, the old key alone is good.
      const earlier = results.filter((r) => r.received < servedAt);
      for (const r of earlier) assert.equal(r.status, r.tag === 'old' ? 200 : 401, `before the refresh: ${r.tag} → ${r.status}`);
      // Once any response showed the new set, every later request sees it.
      const switched = Math.min(...results.filter((r) => (r.tag === 'new') === (r.status === 200)).map((r) => r.received));
      assert.ok(Number.isFinite(switched), 'some response showed the new key set');
      const later = results.filter((r) => r.sent > switched);
      t.diagnostic(`${results.length} requests: ${earlier.length} before the refresh, ${later.length} after the first answer of the new set`);
      assert.ok(later.filter((r) => r.tag === 'old').length >= 10 && later.filter((r) => r.tag === 'new').length >= 10);
      for (const r of later) {
        assert.equal(r.status, r.tag === 'new' ? 200 : 401, `after the switch: ${r.tag} → ${r.status}`);
        if (r.tag === 'old') assert.equal(description(r), 'The token signature is invalid');
      }

      // And on fresh connections, both workers: the cached old token is gone.
      const [b0, b1] = await gw.perWorker();
      for (const r of await fresh(gw.url(), oldToken, 30)) assert.equal(r.status, 401);
      for (const r of await fresh(gw.url(), newToken, 30)) assert.equal(r.status, 200);
      const [c0, c1] = await gw.perWorker();
      assert.ok(c0 > b0 && c1 > b1, 'both workers answered after the refresh');
      const status = JSON.parse((await gw.admin('/jwks_status')).body).providers.idp;
      assert.deepEqual(status.keys.map((k) => k.kid), ['reused', 'second']);
      assert.ok(gw.proc.running);
    } finally {
      await jwks.close();
    }
  }));

  test('REL-JWKS-14: a JWKS that flips between two sets on every fetch, under load', { timeout: 60000 }, withLogs(async (t) => {
    const jwks = await startJwksServer();
    try {
      const keyX = withKid(pool[0], 'flip-x');
      const keyY = withKid(pool[1], 'flip-y');
      const sets = [['flip-x'], ['flip-y']]; // kids per set index
      jwks.setRotation([[keyX], [keyY]]);
      const gw = await startGatewayFor(tmp, 'gw-flip', {
        idp: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'], jwks_refresh: 10 },
      }, [{ path: '/mcp', providers: ['idp'] }], upstream);
      const tokens = { 'flip-x': await mintToken(keyX, { iss: ISSUER, aud: gw.resource() }), 'flip-y': await mintToken(keyY, { iss: ISSUER, aud: gw.resource() }) };
      await waitFor(() => jwks.state.served[0]?.at, 'the first fetch');
      assert.equal((await timedPost(gw.url(), { agent: false, token: tokens['flip-x'] })).status, 200);
      // The same load with set X's token only (no flip) opens the upstream
      // connections; the census after it is the baseline.
      const census = () => fdCensus(gw.proc.child.pid, { peers: { jwks: jwks.port, upstream: upstream.port }, listenPort: gw.port });
      const warm = startLoad({ url: gw.url(), connections: 6, pick: () => ({ token: tokens['flip-x'], tag: 'flip-x' }) });
      await sleep(1000);
      assert.ok((await warm.stop()).every((r) => r.status === 200));
      const start = await quietCensus(census);

      // The first flip-y token finds an unknown kid and refetches (set Y);
      // the refresh timer (10 s) fetches set X again.
      const load = startLoad({
        url: gw.url(),
        connections: 6,
        pick: (n) => (n % 2 ? { token: tokens['flip-y'], tag: 'flip-y' } : { token: tokens['flip-x'], tag: 'flip-x' }),
      });
      await waitFor(() => jwks.state.served[2]?.at, 'the refresh after the refetch', 25000);
      await sleep(1000);
      const results = await load.stop();
      const served = jwks.state.served.filter((s) => s.at !== undefined);
      t.diagnostic(`${results.length} requests; sets served: ${served.map((s) => `${s.set}@${s.at - served[0].at}ms`).join(' ')}`);
      assert.ok(served.length >= 3);

      const bad = results.filter((r) => r.status !== 200 && r.status !== 401);
      assert.deepEqual(bad.map((r) => `${r.status} ${r.error ?? r.body}`), [], 'only 200 and 401');
      // The sets a request may have been verified against: the one served
      // last before it was sent, the one before that if the last was sent
      // only just before (its install may come a little after), and any
      // served while it ran.
      const slackMs = 2000;
      let strict = 0;
      for (const r of results) {
        const possible = new Set();
        const prior = served.filter((s) => s.at <= r.sent);
        if (prior.length) possible.add(prior.at(-1).set);
        if (prior.length >= 2 && prior.at(-1).at > r.sent - slackMs) possible.add(prior.at(-2).set);
        for (const s of served) if (s.at > r.sent && s.at <= r.received) possible.add(s.set);
        const holds = [...possible].map((i) => sets[i].includes(r.tag));
        if (possible.size === 1) strict += 1;
        if (r.status === 200) assert.ok(holds.includes(true), `${r.tag} accepted while no possible set held it (${[...possible]})`);
        else assert.ok(holds.includes(false), `${r.tag} refused while every possible set held it (${[...possible]})`);
      }
      t.diagnostic(`${strict} requests had exactly one possible set`);
      assert.ok(strict > 20);
      for (const tag of ['flip-x', 'flip-y']) {
        assert.ok(results.some((r) => r.tag === tag && r.status === 200), `${tag} accepted sometimes`);
        assert.ok(results.some((r) => r.tag === tag && r.status === 401), `${tag} refused sometimes`);
      }
      assert.ok(gw.proc.running);
      const end = await quietCensus(census, { until: (c) => c.other === start.other && c.toPeer.jwks === 0 });
      t.diagnostic(`fds: ${JSON.stringify(start)} → ${JSON.stringify(end)}`);
      assert.equal(end.toPeer.jwks, 0, 'no JWKS connection left open');
      assert.equal(end.other, start.other, 'no fd leaked (besides client and upstream connections)');
      if (!SANITIZED && !process.env.TSAN_OPTIONS) assert.ok(end.rssKb < start.rssKb + 32 * 1024, `RSS ${start.rssKb} → ${end.rssKb} KiB`);
    } finally {
      await jwks.close();
    }
  }));

  test('REL-JWKS-17: an unresolvable JWKS host fails visibly and backs off; 127.0.0.2 and localhost work', { timeout: 60000 }, withLogs(async (t) => {
    const loopback2 = await startJwksServer({ host: '127.0.0.2' });
    const named = await startJwksServer();
    try {
      const k0 = withKid(pool[0], 'dns-k0');
      const k2 = withKid(pool[1], 'lo2-key');
      const k3 = withKid(pool[2], 'named-key');
      loopback2.setKeys([k2, k0]);
      named.setKeys([k3]);
      const iss = { nodns: `${ISSUER}/nodns`, lo2: `${ISSUER}/lo2`, named: `${ISSUER}/named` };
      const gw = await startGatewayFor(tmp, 'gw-dns', {
        // The port is a live JWKS server's: only the name fails.
        nodns: { issuer: iss.nodns, jwks_uri: `http://jwks.mag-test.invalid:${loopback2.port}/jwks`, jwks_refresh: 30 },
        lo2: { issuer: iss.lo2, jwks_uri: `http://127.0.0.2:${loopback2.port}/jwks` },
        named: { issuer: iss.named, jwks_uri: `http://localhost:${named.port}/jwks` },
      }, [{ path: '/mcp', providers: ['nodns'] }, { path: '/multi', providers: ['nodns', 'lo2', 'named'] }], upstream);

      const res = await timedPost(gw.url(), { agent: false, token: await mintToken(k0, { iss: iss.nodns, aud: gw.resource() }) });
      t.diagnostic(`token of the unresolvable provider: ${res.status} after ${res.received - res.sent} ms`);
      assert.equal(res.status, 401);
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
      assert.equal(description(res), 'No signing keys are available');

      const jwksStatus = async () => JSON.parse((await gw.admin('/jwks_status')).body).providers;
      await waitFor(async () => {
        const s = await jwksStatus();
        return s.lo2.last_result === 'ok' && s.named.last_result === 'ok';
      }, 'the other providers');
      const status = await jwksStatus();
      t.diagnostic(`nodns last_result: ${status.nodns.last_result}`);
      assert.equal(status.nodns.key_count, 0);
      assert.match(status.nodns.last_result, /resolve|timeout/i);
      assert.deepEqual(status.lo2.keys.map((k) => k.kid), ['lo2-key', 'dns-k0']);
      assert.deepEqual(status.named.keys.map((k) => k.kid), ['named-key']);
      const ready = await gw.admin('/ready');
      assert.equal(ready.status, 503);
      assert.equal(JSON.parse(ready.body).providers.nodns.ready, false);

      // Other providers of the same route are not held up by the failing one.
      for (const [name, key] of [['lo2', k2], ['named', k3]]) {
        const ok = await timedPost(gw.url('/multi'), { agent: false, token: await mintToken(key, { iss: iss[name], aud: gw.resource('/multi') }) });
        assert.equal(ok.status, 200, `${name}: ${ok.body}`);
      }
      assert.equal((await timedPost(gw.url('/multi'), { agent: false, token: await mintToken(k0, { iss: iss.nodns, aud: gw.resource('/multi') }) })).status, 401);

      // Retries back off: 1 s, 2 s, 4 s (capped at jwks_refresh).
      const retries = () => [...gw.proc.stderr.matchAll(/provider nodns: fetch failed \((.*?)\), keeping no keys, retry in (\d+) ms/g)];
      await waitFor(() => retries().length >= 3, 'three failed attempts', 40000);
      const delays = retries().map((m) => Number(m[2]));
      t.diagnostic(`retry delays: ${delays.join(', ')} ms; reason: ${retries()[0][1]}`);
      assert.deepEqual(delays.slice(0, 3), [1000, 2000, 4000]);
      const m = parseSamples((await gw.admin('/stats/prometheus')).body);
      assert.ok(m.get('mag_jwks_fetches_total{provider="nodns",result="failure"}') >= 3);
      assert.equal(loopback2.state.requests.length >= 1 && named.count() >= 1, true);
      assert.ok(gw.proc.running);
    } finally {
      await loopback2.close();
      await named.close();
    }
  }));
});
