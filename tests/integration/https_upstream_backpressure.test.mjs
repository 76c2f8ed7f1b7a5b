// A request body larger than an unread connection takes in, to an https://
// upstream that does not read it for a while, sent after the upstream has
// the request head (so over the established TLS connection): the gateway
// does not spin while the socket is full, and once the upstream reads,
// every byte arrives in order.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { DEV_JWKS } from './lib/env.mjs';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { makeTestPki } from './lib/jwks_server.mjs';
import { MCP_POST_HEADERS, freePort } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';

const HOLD_MS = 2000;
// Just under the default max_body_bytes (4 MiB). An unread loopback
// connection takes in about 3 MB (the sender's buffer grows, the receiver's
// window does not), so the gateway's last TLS writes meet a full socket and
// wait in libevent for it to drain.
const PAD_BYTES = (4 << 20) - 1024;

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat).
async function cpuTicks(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

// Bytes queued but unsent on loopback connections to `port` (/proc/net/tcp's
// tx_queue; the port is hexadecimal there).
async function unsentTo(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1);
  let total = 0;
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[2].endsWith(`:${hexPort}`)) continue;
    total += parseInt(f[4].split(':')[0], 16);
  }
  return total;
}

describe('https:// upstream that reads the request body late', () => {
  let dir;
  let upstream;
  let upstreamPort;
  let gateway;
  const seen = { arrivedAt: [], resumedAt: [] };

  before(async () => {
    dir = await makeTempDir('mag-https-bp-');
    const pki = await makeTestPki(dir);
    upstream = https.createServer({ key: await readFile(pki.keyFile), cert: await readFile(pki.certFile) }, (req, res) => {
      seen.arrivedAt.push(Date.now());
      req.pause();
      setTimeout(() => {
        seen.resumedAt.push(Date.now());
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c) => { hash.update(c); bytes += c.length; });
        req.on('end', () => {
          const result = { bytes, sha256: hash.digest('hex') };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result }));
        });
        req.resume();
      }, HOLD_MS);
    });
    upstreamPort = await freePort();
    await new Promise((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));
    gateway = await startGateway({
      dir,
      upstreamUrl: `https://127.0.0.1:${upstreamPort}`,
      issuer: 'https://dev.mcp-auth-gateway.local',
      jwksFile: DEV_JWKS,
      routeAuth: 'none',
      upstream: { ca_file: pki.caFile, tls_server_name: 'localhost' },
    });
  });

  after(async () => {
    await stopAll();
    await new Promise((resolve) => upstream.close(resolve));
    await removeTempDir(dir);
  });

  test('the body waits in the socket without the gateway spinning, then arrives whole', { timeout: 30000 }, withLogs(async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'add', arguments: { a: 2, b: 3, pad: 'x'.repeat(PAD_BYTES) } },
    });
    const pid = gateway.proc.child.pid;
    // The head first; the body once the upstream has the head, so it goes
    // over the established TLS connection, in pieces as a client sends it.
    const req = http.request(gateway.url, {
      method: 'POST', agent: false,
      headers: { ...MCP_POST_HEADERS, 'content-length': Buffer.byteLength(body) },
    });
    const pending = new Promise((resolve, reject) => {
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    req.flushHeaders();
    const deadline = Date.now() + 5000;
    while (seen.arrivedAt.length === 0) {
      assert.ok(Date.now() < deadline, 'the request head never reached the upstream');
      await sleep(10);
    }
    for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.slice(at, at + 64 * 1024));
    req.end();

    // Measured inside the hold, until shortly before the upstream reads.
    await sleep(300);
    const ticks0 = await cpuTicks(pid);
    const t0 = Date.now();
    await sleep(HOLD_MS - 800);
    const ticks1 = await cpuTicks(pid);
    const wallMs = Date.now() - t0;
    const unsent = await unsentTo(upstreamPort);
    assert.equal(seen.resumedAt.length, 0, 'the measurement must end before the upstream reads');

    const res = await pending;
    assert.equal(res.status, 200, res.body);
    const expected = { bytes: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex') };
    assert.deepEqual(JSON.parse(res.body).result, expected);

    // The socket really was full: bytes waited in the gateway's send queue.
    assert.ok(unsent > 0, `nothing was queued toward the upstream (${unsent} bytes)`);
    // A gateway spinning on a writable-event loop would burn a whole CPU.
    const cpuMs = ((ticks1 - ticks0) * 1000) / CLK_TCK;
    assert.ok(cpuMs < wallMs * 0.2, `gateway used ${cpuMs} ms of CPU in ${wallMs} ms while the upstream did not read`);
  }));
});
