// Hostile reloads (REL-CFG-* in docs/security.md), against real gateway processes
// with `workers: 2`, real JWKS servers and recording upstreams:
// - REL-CFG-11: 10 SIGHUPs per second for 5 s, alternating two configs
//   (B adds a required scope, routes to another upstream and changes the
//   provider, so every reload builds a new key provider that fetches),
//   while an HTTP/1.1 load and h2load run: every answer is config A's or
//   config B's, never a mix and never a 5xx; afterwards no connection of
//   the old providers or upstream pools is left, the other fds are the
//   same as before, RSS is stable, and the old providers' refresh timers
//   never fire.
// - REL-CFG-12: a reload that changes the provider's JWKS URL, issuer and
//   audience while a fetch of the old provider is in flight: requests that
//   arrive before the new provider's first fetch wait for it; the new
//   config's tokens are accepted once its keys are in; the old keys are
//   never used for the new config (not even the ones the old in-flight
//   fetch brings back, not even when only the URL changed and the new
//   JWKS is unreachable).
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { parseH2load, runH2load } from './lib/load.mjs';
import { SANITIZED, parseSamples } from './lib/metrics.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { fdCensus, quietCensus, sleep, startLoad, timedPost, waitFor } from './lib/timed_load.mjs';
import { generateSigningKey, mintToken, withKid } from './lib/tokens.mjs';

function description(res) {
  return /error_description="([^"]*)"/.exec(res.headers?.['www-authenticate'] ?? '')?.[1];
}

// An echo upstream whose answers say which one it is.
async function namedUpstream(name) {
  const upstream = await startEchoUpstream();
  upstream.setHandler((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { upstream: name } }));
  });
  return upstream;
}

// A gateway whose config file is replaced atomically (write + rename) and
// reloaded with SIGHUP; `reload()` waits for the log line, `hup()` does not.
async function reloadableGateway(tmp, name, config) {
  const { proc, configPath } = await launchGateway(tmp, config, `${name}.yaml`, name);
  const adminOrigin = `http://${config.admin.address}`;
  const reloads = () => (proc.stderr.match(/configuration reloaded/g) ?? []).length;
  const hup = async (next) => {
    const staged = join(tmp, `${name}.next.yaml`);
    await writeFile(staged, JSON.stringify(next));
    await rename(staged, configPath);
    proc.child.kill('SIGHUP');
  };
  return {
    proc,
    hup,
    reloads,
    async reload(next) {
      const before = reloads();
      await hup(next);
      await waitFor(() => reloads() > before, 'the reload');
    },
    admin: (path) => httpRequest(`${adminOrigin}${path}`),
    metrics: async () => parseSamples((await httpRequest(`${adminOrigin}/stats/prometheus`)).body),
  };
}

// `count` requests, each on a new connection (spread over the workers).
async function fresh(url, token, count) {
  return Promise.all(Array.from({ length: count }, () => timedPost(url, { agent: false, token })));
}

describe('hostile reloads', () => {
  let tmp;
  let pool; // three RSA key materials, given kids per test (withKid)
  before(async () => {
    tmp = await makeTempDir('mag-reload-hostile-');
    pool = await Promise.all([0, 1, 2].map((i) => generateSigningKey(`pool-${i}`)));
  });
  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  test('REL-CFG-11: 10 reloads/s under HTTP/1.1 and h2load: no mixed answer, no 5xx, no leak', { timeout: 90000 }, withLogs(async (t) => {
    const issuer = 'http://127.0.0.1/reload-storm';
    const jwks = await startJwksServer();
    const e1 = await namedUpstream('e1');
    const e2 = await namedUpstream('e2');
    try {
      const key = withKid(pool[0], 'storm-key');
      jwks.setKeys([key]);
      const port = await freePort();
      const resource = `http://127.0.0.1:${port}/mcp`;
      const base = {
        workers: 2,
        listeners: [{ address: `127.0.0.1:${port}` }],
        admin: { address: `127.0.0.1:${await freePort()}` },
        access_log: 'off',
        providers: { idp: { issuer, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'], jwks_refresh: 10 } },
        upstreams: { backend: { url: e1.origin } },
        routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['idp'], scopes: ['mcp:access'] } }],
      };
      const configA = base;
      const configB = structuredClone(base);
      configB.providers.idp.audiences = ['config-b'];
      configB.upstreams.backend.url = e2.origin;
      configB.routes[0].auth.scopes = ['mcp:access', 'math:admin'];
      const gw = await reloadableGateway(tmp, 'gw-storm', configA);
      const url = resource;
      const plain = await mintToken(key, { iss: issuer, aud: resource, scope: 'mcp:access' });
      const admin = await mintToken(key, { iss: issuer, aud: resource, scope: 'mcp:access math:admin' });

      // What each config answers, and nothing else.
      const upstreamOf = (r) => {
        try {
          return JSON.parse(r.body).result?.upstream;
        } catch {
          return undefined;
        }
      };
      const classify = (r) => {
        const from = upstreamOf(r);
        if (r.tag === 'plain') {
          if (r.status === 200 && from === 'e1') return 'A';
          const challenge = r.headers?.['www-authenticate'] ?? '';
          if (r.status === 403 && /insufficient_scope/.test(challenge) && /math:admin/.test(challenge)) return 'B';
        } else if (r.status === 200) {
          if (from === 'e1') return 'A';
          if (from === 'e2') return 'B';
        }
        return `mixed or failed: ${r.tag} → ${r.status} ${r.error ?? r.body}`;
      };
      const pick = (n) => (n % 2 ? { token: admin, tag: 'admin' } : { token: plain, tag: 'plain' });

      // Baseline, on config A with the same load as later.
      const census = () => fdCensus(gw.proc.child.pid, { peers: { jwks: jwks.port, e1: e1.port, e2: e2.port }, listenPort: port });
      const warmUp = async (until) => {
        const warm = startLoad({ url, connections: 6, pick });
        await sleep(1000);
        const results = await warm.stop();
        assert.deepEqual([...new Set(results.map(classify))], ['A']);
        return quietCensus(census, { until });
      };
      const start = await warmUp();
      const m0 = await gw.metrics();

      // The storm: B, A, B, ... every 100 ms for 5 s, ending on A.
      const bodyFile = join(tmp, 'ping.json');
      await writeFile(bodyFile, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
      const h2 = runH2load(['-D', '5', '-c', '2', '-m', '4', '-H', `authorization: Bearer ${admin}`,
        '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream', '-d', bodyFile, url]);
      const load = startLoad({ url, connections: 6, pick });
      const fetchesBefore = jwks.count();
      const stormStart = Date.now();
      let sent = 0;
      for (; sent < 50; sent++) {
        await gw.hup(sent % 2 === 0 ? configB : configA);
        await sleep(100);
      }
      // The last SIGHUP (config A) may still be coalesced with one in progress.
      await waitFor(async () => classify({ ...(await timedPost(url, { agent: false, token: plain })), tag: 'plain' }) === 'A', 'config A to serve');
      const results = await load.stop();
      const h2run = await h2;
      const fetchesAfterStorm = jwks.count();

      const m1 = await gw.metrics();
      const delta = (name) => (m1.get(name) ?? 0) - (m0.get(name) ?? 0);
      const kinds = new Map();
      for (const r of results) kinds.set(classify(r), (kinds.get(classify(r)) ?? 0) + 1);
      t.diagnostic(`${sent} SIGHUPs, ${delta('mag_config_reloads_total{result="success"}')} reloads, ` +
        `${fetchesAfterStorm - fetchesBefore} JWKS fetches; HTTP/1.1: ${JSON.stringify(Object.fromEntries(kinds))}`);
      const h2stats = parseH2load(h2run.stdout);
      t.diagnostic(`h2load: ${JSON.stringify(h2stats)}`);

      assert.deepEqual([...kinds.keys()].filter((k) => k !== 'A' && k !== 'B'), [], 'every answer is config A\'s or config B\'s');
      assert.ok(kinds.get('A') > 0 && kinds.get('B') > 0, 'both configs answered during the storm');
      assert.equal(delta('mag_config_reloads_total{result="failure"}'), 0);
      assert.ok(delta('mag_config_reloads_total{result="success"}') >= 10, 'the reloads happened');
      assert.ok(fetchesAfterStorm - fetchesBefore >= 10, 'each new provider fetched its keys');
      assert.equal(h2run.code, 0, h2run.stderr);
      assert.ok(h2stats.s2xx > 0, 'h2load got answers');
      assert.equal(h2stats.s4xx + h2stats.s5xx, 0, 'h2load: only 2xx');
      assert.equal(h2stats.errored + h2stats.timeout, 0, 'h2load: no errors');
      assert.equal(delta('mag_requests_total{route="/mcp",method="POST",status_class="5xx"}'), 0);

      // Leaks: the same load on config A again, then the census.
      const end = await warmUp((c) => c.other === start.other && c.toPeer.e2 === 0 && c.toPeer.jwks === 0);
      t.diagnostic(`fds: ${JSON.stringify(start)} → ${JSON.stringify(end)}`);
      assert.equal(end.toPeer.e2, 0, 'no connection of config B\'s upstream pools is left');
      assert.equal(end.toPeer.jwks, 0, 'no JWKS fetch connection is left');
      assert.equal(end.other, start.other, 'no other fd leaked');
      if (!SANITIZED && !process.env.TSAN_OPTIONS) assert.ok(end.rssKb < start.rssKb + 32 * 1024, `RSS ${start.rssKb} → ${end.rssKb} KiB`);
      assert.equal((await gw.admin('/healthz')).status, 200);
      assert.equal((await gw.admin('/ready')).status, 200);

      // The providers of the storm are gone with their timers: those made in
      // its first 2 s would refresh (10 s) by 12 s after its start; the
      // current one (made by the last reload) not before 10 s after its end.
      await sleep(Math.max(0, stormStart + 12000 - Date.now()));
      const late = jwks.count() - fetchesAfterStorm;
      t.diagnostic(`JWKS fetches from the end of the storm to 12 s after its start: ${late}`);
      assert.ok(late <= 1, `${late} fetches after the storm: old providers' timers are alive`);
      assert.ok(gw.proc.running);
    } finally {
      await jwks.close();
      await e1.close();
      await e2.close();
    }
  }));

  test('REL-CFG-12: a reload that changes JWKS URL, issuer and audience never uses the old keys', { timeout: 60000 }, withLogs(async (t) => {
    const oldJwks = await startJwksServer();
    const newJwks = await startJwksServer();
    const upstream = await namedUpstream('backend');
    try {
      const oldKey = withKid(pool[0], 'shared');
      const newKey = withKid(pool[1], 'shared'); // the same kid at the new JWKS
      const extraKey = withKid(pool[2], 'extra'); // only ever at the old JWKS
      oldJwks.setKeys([oldKey]);
      newJwks.setKeys([newKey]);
      const port = await freePort();
      const resource = `http://127.0.0.1:${port}/mcp`;
      const oldIss = 'http://127.0.0.1/old-issuer';
      const newIss = 'http://127.0.0.1/new-issuer';
      const configOld = {
        workers: 2,
        listeners: [{ address: `127.0.0.1:${port}` }],
        admin: { address: `127.0.0.1:${await freePort()}` },
        access_log: 'off',
        providers: { idp: { issuer: oldIss, jwks_uri: `http://127.0.0.1:${oldJwks.port}/jwks`, audiences: ['aud-old'], algorithms: ['RS256'] } },
        upstreams: { backend: { url: upstream.origin } },
        routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['idp'] } }],
      };
      const configNew = structuredClone(configOld);
      configNew.providers.idp = { ...configOld.providers.idp, issuer: newIss, jwks_uri: `http://127.0.0.1:${newJwks.port}/jwks`, audiences: ['aud-new'] };
      const gw = await reloadableGateway(tmp, 'gw-switch', configOld);
      const mint = (key, iss, aud) => mintToken(key, { iss, aud });
      const tokens = {
        old: await mint(oldKey, oldIss, 'aud-old'),
        fresh: await mint(newKey, newIss, 'aud-new'),
        oldKeyNewClaims: await mint(oldKey, newIss, 'aud-new'),
        extraNewClaims: await mint(extraKey, newIss, 'aud-new'),
        extraOldClaims: await mint(extraKey, oldIss, 'aud-old'),
      };
      for (const r of await fresh(resource, tokens.old, 10)) assert.equal(r.status, 200, r.body);

      // An unknown kid makes the old provider refetch; its JWKS answers
      // after 2 s, with the extra key. The new JWKS answers after 1.5 s.
      oldJwks.setKeys([oldKey, extraKey]);
      oldJwks.state.delayMs = 2000;
      newJwks.state.delayMs = 1500;
      const before = oldJwks.count();
      const inFlight = timedPost(resource, { agent: false, token: tokens.extraOldClaims });
      await oldJwks.waitForRequest(before);
      await gw.reload(configNew);
      const reloadedAt = Date.now();

      // Between the reload and the new provider's first keys.
      const [fresh1, old1, oldKeyNewClaims1, extra1] = await Promise.all(
        ['fresh', 'old', 'oldKeyNewClaims', 'extraNewClaims'].map((k) => timedPost(resource, { agent: false, token: tokens[k] })),
      );
      const firstNewFetch = newJwks.state.served[0]?.at;
      t.diagnostic(`new token answered ${fresh1.received - reloadedAt} ms after the reload; new JWKS answered after ${firstNewFetch - reloadedAt} ms`);
      assert.equal(fresh1.status, 200, fresh1.body);
      assert.ok(firstNewFetch && fresh1.received >= firstNewFetch, 'it waited for the new provider\'s first fetch');
      assert.equal(old1.status, 401);
      assert.equal(oldKeyNewClaims1.status, 401);
      assert.equal(description(oldKeyNewClaims1), 'The token signature is invalid', 'not verified with the old key of the same kid');
      assert.equal(extra1.status, 401);

      // The request that started before the reload finishes on the old
      // snapshot, with the keys its own (old) provider fetched.
      const carried = await inFlight;
      assert.equal(carried.status, 200, 'an in-flight request keeps its config and provider');
      assert.ok(oldJwks.state.served.at(-1).at, 'the old provider\'s fetch completed');

      // Its keys did not go into the new provider.
      await sleep(200);
      for (const r of await fresh(resource, tokens.extraNewClaims, 10)) {
        assert.equal(r.status, 401);
        assert.equal(description(r), 'The token was signed by an unknown key');
      }
      for (const r of await fresh(resource, tokens.oldKeyNewClaims, 10)) assert.equal(r.status, 401);
      for (const r of await fresh(resource, tokens.old, 10)) assert.equal(r.status, 401);
      for (const r of await fresh(resource, tokens.fresh, 10)) assert.equal(r.status, 200, r.body);
      const status = JSON.parse((await gw.admin('/jwks_status')).body).providers.idp;
      assert.equal(status.source, configNew.providers.idp.jwks_uri);
      assert.deepEqual(status.keys.map((k) => k.kid), ['shared']);
      assert.equal(status.last_result, 'ok');

      // Only the URL changes, to a JWKS nobody serves: the old keys (same
      // issuer, same audience) are not used meanwhile; tokens get 401.
      const unreachable = structuredClone(configOld);
      unreachable.providers.idp.jwks_uri = `http://127.0.0.1:${await freePort()}/jwks`;
      oldJwks.state.delayMs = 0;
      await gw.reload(configOld);
      for (const r of await fresh(resource, tokens.old, 4)) assert.equal(r.status, 200, r.body);
      await gw.reload(unreachable);
      const cut = await fresh(resource, tokens.old, 4);
      for (const r of cut) {
        assert.equal(r.status, 401);
        assert.equal(description(r), 'No signing keys are available');
      }
      assert.equal((await gw.admin('/ready')).status, 503);
      const census = await fdCensus(gw.proc.child.pid, { peers: { oldJwks: oldJwks.port, newJwks: newJwks.port } });
      assert.deepEqual(census.toPeer, { oldJwks: 0, newJwks: 0 }, 'no fetch connection of a replaced provider is left');
      assert.ok(gw.proc.running);
    } finally {
      await oldJwks.close();
      await newJwks.close();
      await upstream.close();
    }
  }));
});
