// Soak (scripts/soak): a mixed load through the gateway for N minutes, over
// HTTP/1.1 (keep-alive agents) and HTTP/2 (node:http2 sessions, h2c), while
// the upstreams restart and the JWKS server of a second provider flaps (down /
// 500 / garbage / back, the gateway refetching every 10 s), then checks: the
// gateway never crashed, it caused no 5xx itself (5xx only while an upstream
// is down or restarting), every token got its expected answer (the flapping
// provider's token keeps working on its last good keys), and its RSS and open
// descriptors after the load are within 10 % of their level after warm-up.
//   node soak.mjs <minutes>   (MAG_GATEWAY_BIN / MAG_BACKEND_BIN as for the tests)
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { SignJWT, exportJWK } from 'jose';
import { startBackend } from './lib/backend.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { freePort } from './lib/net.mjs';
import { startProcess, stopAll } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const minutes = Number(process.argv[2] ?? 2);
const totalMs = minutes * 60000;
const warmupMs = Math.min(20000, totalMs / 4);
const WORKERS = 6; // HTTP/1.1 clients
const H2_WORKERS = 3; // HTTP/2 clients, multiplexed on one session per phase
const ISSUER = 'https://issuer.soak.example';
const FLAPPY_ISSUER = 'https://flappy.soak.example';
const JWKS_MODES = ['ok', 'down', 'status500', 'garbage', 'ok', 'empty_keys'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
// Descriptors, split into pooled upstream connections (kept idle for up to
// the pool's keep-alive timeout, 30 s, and capped by max_idle_connections)
// and everything else (which must return to its level).
function fdCount(pid, upstreamPorts) {
  const inodes = new Map();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      inodes.set(cols[9], parseInt(cols[2].split(':')[1], 16));
    }
  }
  let pooled = 0;
  let other = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && upstreamPorts.includes(inodes.get(m[1]))) pooled++;
    else other++;
  }
  return { pooled, other };
}

function request(agent, port, { path, token, body, session }) {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', host: `127.0.0.1:${port}` };
    if (token) headers.authorization = `Bearer ${token}`;
    if (session) headers['mcp-session-id'] = session;
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, session: res.headers['mcp-session-id'] }));
      res.on('error', () => resolve({ status: 0, text }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    req.end(JSON.stringify(body));
  });
}

// The same exchange over an HTTP/2 session (h2c with prior knowledge).
function h2request(session, { path, token, body, session: mcpSession }) {
  return new Promise((resolve) => {
    if (!session || session.destroyed || session.closed) {
      resolve({ status: 0, text: 'no HTTP/2 session' });
      return;
    }
    const headers = { ':method': 'POST', ':path': path, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (mcpSession) headers['mcp-session-id'] = mcpSession;
    let status = 0;
    let sid;
    let text = '';
    let req;
    try {
      req = session.request(headers);
    } catch (e) {
      resolve({ status: 0, text: String(e) });
      return;
    }
    req.setTimeout(10000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on('response', (h) => {
      status = h[':status'];
      sid = h['mcp-session-id'];
    });
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve({ status, text, session: sid }));
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    req.end(JSON.stringify(body));
  });
}

const initBody = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'soak', version: '1' } } };
const addBody = (a, b) => ({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a, b } } });

async function main() {
  const tmp = await makeTempDir('mag-soak-');
  const stats = { total: 0, byKind: {}, gateway5xx: [], wrong: [], upstreamDown5xx: 0, transportErrors: 0 };
  let jwks;
  try {
    const key = await generateSigningKey('soak-key');
    // The second provider's keys come from a JWKS server that flaps.
    const flappyKey = await generateSigningKey('flappy-key');
    jwks = await startJwksServer();
    jwks.setKeys([flappyKey]);
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    const backends = { json: await startBackend(), sse: await startBackend({ sse: true }) };
    const port = await freePort();
    const res = (p) => `http://127.0.0.1:${port}${p}`;
    const cfg = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: '' },
      access_log: 'off',
      providers: {
        soak: { issuer: ISSUER, jwks_file: jwksFile, algorithms: ['RS256'] },
        flappy: { issuer: FLAPPY_ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, jwks_refresh: 10, algorithms: ['RS256'] },
      },
      upstreams: { json: { url: backends.json.origin }, sse: { url: backends.sse.origin } },
      routes: [
        { path_prefix: '/mcp', upstream: 'json', resource: res('/mcp'), auth: { providers: ['soak', 'flappy'] } },
        { path_prefix: '/sse', upstream: 'sse', resource: res('/sse'), auth: { providers: ['soak'] } },
      ],
    });
    // The backends serve /mcp; the gateway forwards /sse as /sse, so start the SSE one on /sse.
    await backends.sse.proc.stop();
    backends.sse = await startBackend({ sse: true, path: '/sse', port: backends.sse.port });
    const gw = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', cfg]);
    const pid = gw.child.pid;

    // Tokens: one valid per route; invalid ones minted once (their rejection is what is measured).
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedKey = { kid: 'soak-key', privateKey: other.privateKey };
    const unknownKey = { kid: 'nobody', privateKey: other.privateKey };
    const valid = { '/mcp': await mintToken(key, { iss: ISSUER, aud: res('/mcp') }), '/sse': await mintToken(key, { iss: ISSUER, aud: res('/sse') }) };
    const flappyValid = await mintToken(flappyKey, { iss: FLAPPY_ISSUER, aud: res('/mcp') });
    const flappyUnknownKid = await mintToken(flappyKey, { iss: FLAPPY_ISSUER, aud: res('/mcp'), kid: 'flappy-unknown' });
    const bad = {
      expired: await mintToken(key, { iss: ISSUER, aud: res('/mcp'), issuedAgo: 7200, expiresIn: 3600 }),
      forged: await mintToken(forgedKey, { iss: ISSUER, aud: res('/mcp') }),
      unknown_kid: await mintToken(unknownKey, { iss: ISSUER, aud: res('/mcp') }),
    };
    void exportJWK;
    void SignJWT;

    // Upstream restarts: one backend at a time is down for ~1 s every 15 s.
    // 5xx inside [down - 0.5 s, up + 2 s] is the upstream's fault, not the gateway's.
    const downWindows = [];
    let running = true;
    const restarter = (async () => {
      let which = 'json';
      while (running) {
        await sleep(15000);
        if (!running) break;
        const b = backends[which];
        const w = { route: which === 'json' ? '/mcp' : '/sse', from: Date.now() - 500, to: Infinity };
        downWindows.push(w);
        await b.proc.stop();
        await sleep(1000);
        backends[which] = await startBackend({ sse: which === 'sse', path: which === 'sse' ? '/sse' : undefined, port: b.port });
        w.to = Date.now() + 2000;
        which = which === 'json' ? 'sse' : 'json';
      }
    })();
    // The JWKS server changes its behaviour every 7 s (the gateway refetches every 10 s).
    const flapper = (async () => {
      for (let i = 1; running; i++) {
        await sleep(7000);
        jwks.state.mode = JWKS_MODES[i % JWKS_MODES.length];
      }
      jwks.state.mode = 'ok';
    })();
    const upstreamExcused = (route, t0, t1) => downWindows.some((w) => w.route === route && t1 >= w.from && t0 <= w.to);

    let phaseAgent = new http.Agent({ keepAlive: true, maxSockets: WORKERS * 2 });
    let phaseH2 = null; // one HTTP/2 session shared by the H2 workers, per phase
    const h2session = () => {
      if (!phaseH2 || phaseH2.destroyed || phaseH2.closed) {
        phaseH2 = http2.connect(`http://127.0.0.1:${port}`);
        phaseH2.on('error', () => {});
      }
      return phaseH2;
    };
    let paused = false;
    const record = (kind, route, expect, r, t0) => {
      stats.total++;
      stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
      if (r.status === 0) stats.transportErrors++;
      if (r.status >= 500 || r.status === 0) {
        if (upstreamExcused(route, t0, Date.now())) stats.upstreamDown5xx++;
        else stats.gateway5xx.push(`${kind} ${route} ${r.status} ${r.text.slice(0, 120)}`);
        return;
      }
      if (!expect(r)) stats.wrong.push(`${kind} ${route} ${r.status} ${r.text.slice(0, 120)}`);
    };
    const worker = async (n, h2) => {
      const sessions = {};
      const tag = h2 ? 'h2_' : '';
      let i = 0;
      while (running) {
        if (paused) {
          await sleep(50);
          continue;
        }
        const agent = phaseAgent;
        const send = h2 ? (opts) => h2request(h2session(), opts) : (opts) => request(agent, port, opts);
        const pick = (n + i++) % 12;
        const t0 = Date.now();
        if (pick === 11) {
          // The flapping provider's unknown kid: 401 (and at most a rate-limited refetch).
          const r = await send({ path: '/mcp', token: flappyUnknownKid, body: addBody(1, 1) });
          record(`${tag}flappy_unknown_kid`, '/mcp', (x) => x.status === 401, r, t0);
          continue;
        }
        if (pick === 10) {
          // The flapping provider's valid token works whatever the JWKS server does (last good keys).
          if (!sessions.flappy) {
            const r = await send({ path: '/mcp', token: flappyValid, body: initBody });
            record(`${tag}flappy_initialize`, '/mcp', (x) => x.status === 200 && x.session, r, t0);
            if (r.status === 200 && r.session) sessions.flappy = r.session;
            continue;
          }
          const r = await send({ path: '/mcp', token: flappyValid, body: addBody(n, i), session: sessions.flappy });
          if (r.status === 404) {
            delete sessions.flappy;
            stats.byKind.session_lost = (stats.byKind.session_lost ?? 0) + 1;
            continue;
          }
          record(`${tag}flappy_valid`, '/mcp', (x) => x.status === 200 && x.text.includes(String(n + i)), r, t0);
          continue;
        }
        if (pick < 6) {
          const route = pick % 2 === 0 ? '/mcp' : '/sse';
          if (!sessions[route]) {
            const r = await send({ path: route, token: valid[route], body: initBody });
            record(`${tag}initialize`, route, (x) => x.status === 200 && x.session, r, t0);
            if (r.status === 200 && r.session) sessions[route] = r.session;
            continue;
          }
          const r = await send({ path: route, token: valid[route], body: addBody(n, i), session: sessions[route] });
          // 404: the backend restarted and forgot the session → initialize again.
          if (r.status === 404) {
            delete sessions[route];
            stats.byKind.session_lost = (stats.byKind.session_lost ?? 0) + 1;
            continue;
          }
          record(`${tag}valid${route === '/sse' ? '_sse' : ''}`, route, (x) => x.status === 200 && x.text.includes(String(n + i)), r, t0);
        } else {
          const kind = ['expired', 'forged', 'unknown_kid', 'expired'][pick - 6];
          const r = await send({ path: '/mcp', token: bad[kind], body: addBody(1, 1) });
          record(`${tag}${kind}`, '/mcp', (x) => x.status === 401, r, t0);
        }
      }
    };
    const sample = async () => {
      paused = true;
      await sleep(300);
      phaseAgent.destroy(); // idle client connections closed: a comparable state
      phaseAgent = new http.Agent({ keepAlive: true, maxSockets: WORKERS * 2 });
      phaseH2?.close();
      phaseH2 = null;
      await sleep(1500);
      const fds = fdCount(pid, [backends.json.port, backends.sse.port]);
      const s = { rssKb: rssKb(pid), fds: fds.other, pooled: fds.pooled };
      paused = false;
      return s;
    };

    const started = Date.now();
    const workers = [
      ...Array.from({ length: WORKERS }, (_, n) => worker(n, false)),
      ...Array.from({ length: H2_WORKERS }, (_, n) => worker(WORKERS + n, true)),
    ];
    await sleep(warmupMs);
    const base = await sample();
    console.log(`soak: warm-up done after ${warmupMs / 1000} s: RSS ${base.rssKb} KiB, ${base.fds} fds (+${base.pooled} pooled upstream connections)`);
    await sleep(Math.max(0, totalMs - (Date.now() - started)));
    const end = await sample();
    running = false;
    await Promise.all(workers);
    await restarter;
    await flapper;
    phaseAgent.destroy();
    phaseH2?.close();

    const alive = gw.running;
    const within = (a, b) => Math.abs(a - b) <= Math.ceil(b * 0.1);
    const fdOk = within(end.fds, base.fds);
    const rssOk = end.rssKb <= base.rssKb * 1.1;
    const secs = (Date.now() - started) / 1000;
    console.log(`soak: ${stats.total} requests in ${secs.toFixed(0)} s (${(stats.total / secs).toFixed(0)}/s): ${JSON.stringify(stats.byKind)}`);
    console.log(`soak: upstream restarts ${downWindows.length}, 5xx while an upstream was down ${stats.upstreamDown5xx}, transport errors ${stats.transportErrors}`);
    console.log(`soak: JWKS fetches of the flapping provider ${jwks.count()} (modes cycled: ${JWKS_MODES.join(' → ')})`);
    console.log(`soak: end RSS ${end.rssKb} KiB (${(((end.rssKb - base.rssKb) / base.rssKb) * 100).toFixed(1)} %), fds ${end.fds} (warm-up ${base.fds}), pooled upstream connections ${end.pooled}`);
    const failures = [];
    if (!alive) failures.push(`gateway exited: ${gw.describe()}`);
    if (stats.gateway5xx.length) failures.push(`${stats.gateway5xx.length} gateway-caused 5xx, e.g.\n  ${stats.gateway5xx.slice(0, 5).join('\n  ')}`);
    if (stats.wrong.length) failures.push(`${stats.wrong.length} unexpected answers, e.g.\n  ${stats.wrong.slice(0, 5).join('\n  ')}`);
    if (!fdOk) failures.push(`fd count ${end.fds} not within 10 % of ${base.fds}`);
    if (end.pooled > 64) failures.push(`${end.pooled} pooled upstream connections, above max_idle_connections`);
    if (!rssOk) failures.push(`RSS ${end.rssKb} KiB more than 10 % above ${base.rssKb} KiB`);
    if (stats.total < 100) failures.push(`only ${stats.total} requests: the load did not run`);
    if (!stats.byKind.h2_valid || !stats.byKind.h2_flappy_valid) failures.push('no successful HTTP/2 requests: the h2 clients did not run');
    if (minutes >= 1 && jwks.count() < 3) failures.push(`the flapping JWKS server was fetched only ${jwks.count()} times`);
    if (failures.length) {
      console.error(`soak: FAILED\n${failures.join('\n')}`);
      process.exitCode = 1;
    } else {
      console.log('soak: passed');
    }
  } finally {
    await stopAll();
    await jwks?.close();
    await removeTempDir(tmp);
  }
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
