// A recording load for the hostile JWKS / reload tests: keep-alive HTTP/1.1
// connections sending requests back to back, every exchange kept with its
// send and receive times (to compare with when keys or configs changed);
// plus a process's open fds, RSS and TCP peers from /proc (leak checks).
import { readFile, readdir, readlink } from 'node:fs/promises';
import http from 'node:http';
import { rssKiB } from './metrics.mjs';
import { MCP_POST_HEADERS } from './net.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `predicate` (sync or async) every 50 ms until it is true.
export async function waitFor(predicate, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Open file descriptors and resident set size (KiB) of a process.
export async function processStats(pid) {
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { fds, rssKb: rssKiB(pid) };
}

// The TCP sockets a process holds, as { local, remote } ports (IPv4 and
// IPv6, any state): e.g. whether a connection to the JWKS server is left.
export async function processSockets(pid) {
  const inodes = new Set();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]);
  }
  const port = (address) => parseInt(address.split(':').at(-1), 16);
  const sockets = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9])) sockets.push({ local: port(f[1]), remote: port(f[2]) });
    }
  }
  return sockets;
}

// One POST on `agent` (false: a new connection); resolves with { status,
// headers, body, sent, received } (Date.now() before the request and after
// the whole response). A transport error is a result too: status 0.
export function timedPost(url, { agent, token, body = '{"jsonrpc":"2.0","id":1,"method":"ping"}', timeoutMs = 15000 }) {
  return new Promise((resolve) => {
    const sent = Date.now();
    const failed = (err) => resolve({ status: 0, error: err.message, sent, received: Date.now() });
    const headers = { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` };
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent, received: Date.now() }),
      );
      res.on('error', failed);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', failed);
    req.end(body);
  });
}

// `connections` keep-alive connections, each sending requests back to back
// until stop(). `pick(n)` says what request n carries ({ token, tag });
// every result is recorded with its tag.
export function startLoad({ url, connections, pick }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const results = [];
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: connections }, async () => {
    while (!stopped) {
      const choice = pick(n++);
      const r = await timedPost(url, { agent, token: choice.token });
      results.push({ ...r, tag: choice.tag });
      if (r.status === 0) await sleep(20); // no busy loop on a refused connection
    }
  });
  return {
    results,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return results;
    },
  };
}

// What a process's fds are: connections to each of `peers` ({ name: port }),
// accepted client connections on `listenPort`, `files` (paths: a
// sanitizer's log file opens on its first report) and `other` (listeners,
// pipes, event and timer fds), which a leak-free process keeps constant
// between two quiet moments.
export async function fdCensus(pid, { peers = {}, listenPort } = {}) {
  const { fds, rssKb } = await processStats(pid);
  let files = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')).startsWith('/')) files += 1;
  }
  const sockets = await processSockets(pid);
  const toPeer = {};
  let counted = 0;
  for (const [name, port] of Object.entries(peers)) {
    toPeer[name] = sockets.filter((s) => s.remote === port).length;
    counted += toPeer[name];
  }
  const clients = sockets.filter((s) => s.local === listenPort && s.remote !== 0).length;
  return { fds, rssKb, toPeer, clients, files, other: fds - counted - clients - files };
}

// A census taken at a quiet moment: polls `census` until two consecutive
// results 200 ms apart agree and `until` holds (a slow, e.g. sanitized,
// gateway may still be closing the connections of a load that just
// stopped), or until `timeoutMs` has passed; returns the last result either
// way, for the caller's assertions to report.
export async function quietCensus(census, { until = () => true, timeoutMs = 10000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  const shape = (c) => JSON.stringify({ fds: c.fds, other: c.other, clients: c.clients, toPeer: c.toPeer });
  let previous = await census();
  for (;;) {
    await sleep(200);
    const current = await census();
    if ((shape(current) === shape(previous) && until(current)) || Date.now() > deadline) return current;
    previous = current;
  }
}
