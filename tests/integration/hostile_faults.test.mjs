// Faults of the gateway's neighbours (REL-UP-*, REL-CLI-* in docs/security.md):
// a raw-TCP upstream that resets, sends malformed responses or closes
// keep-alive connections; clients that vanish mid-request and mid-stream; and
// descriptor exhaustion (EMFILE) under `ulimit -n 256`. JWKS faults are in
// tokens_jwks.test.mjs; a refusing upstream in upstream_failure.test.mjs.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, startGateway, writeConfig } from './lib/gateway.mjs';
import { freePort } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { rawExchange, startRawUpstream } from './lib/raw_upstream.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.faults.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// utime + stime of a process, in seconds (Linux /proc; clock ticks are 100/s).
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('faults of the neighbours', () => {
  let tmp;
  let upstream;
  let gw;
  let token;
  let key;
  let jwksFile;

  before(async () => {
    tmp = await makeTempDir('mag-faults-');
    upstream = await startRawUpstream('ok');
    key = await generateSigningKey('faults-key');
    jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    gw = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile });
    token = await mintToken(key, { iss: ISSUER, aud: gw.resource });
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  const BODY = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  const post = () =>
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`;
  const getSse = () =>
    `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`;

  test('REL-UP-04: upstream resets before headers → 502, gateway alive', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('reset-before-headers');
    const res = await rawExchange(gw.port, post(), { waitMs: 8000 });
    assert.equal(res.statuses[0], 502, res.text.slice(0, 300));
    assert.ok(gw.proc.running);
  }));

  test('REL-UP-10/H1-56: malformed upstream response (CL+TE, CR in a value) → 502', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('malformed');
    const res = await rawExchange(gw.port, post(), { waitMs: 8000 });
    assert.equal(res.statuses[0], 502, res.text.slice(0, 300));
    assert.ok(!res.text.includes('X-Split'), 'nothing of the malformed head is forwarded');
  }));

  test('REL-UP-05: upstream closes mid-body → the client sees an incomplete body and a close, never a padded one', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('reset-mid-body');
    const res = await rawExchange(gw.port, post(), { waitMs: 8000 });
    assert.ok(res.closed, 'connection closed');
    if (res.statuses[0] === 200) {
      const body = res.text.slice(res.text.indexOf('\r\n\r\n') + 4);
      const cl = /content-length:\s*(\d+)/i.exec(res.text);
      if (cl) assert.ok(body.length < Number(cl[1]), `body ${body.length} bytes of ${cl[1]}: never completed`);
      else assert.ok(!res.text.endsWith('0\r\n\r\n'), 'no terminating chunk for an unfinished response');
    } else {
      assert.equal(res.statuses[0], 502, res.text.slice(0, 300));
    }
    assert.ok(gw.proc.running);
  }));

  test('REL-UP-08: SSE upstream resets mid-stream → events delivered, no final chunk, connection closed', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('sse-then-reset');
    const res = await rawExchange(gw.port, getSse(), { waitMs: 8000 });
    assert.equal(res.statuses[0], 200, res.text.slice(0, 300));
    assert.ok(res.text.includes('data: one') && res.text.includes('data: two'), res.text);
    assert.ok(res.closed, 'connection closed');
    assert.ok(!res.text.endsWith('\r\n0\r\n\r\n'), `no terminating chunk:\n${JSON.stringify(res.text.slice(-40))}`);
  }));

  test('REL-UP-11: upstream closes keep-alive connections after each response → no duplicate request, no hang', { timeout: 30000 }, withLogs(async () => {
    upstream.setMode('close-after-response');
    const before = upstream.state.requestCount;
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await rawExchange(gw.port, post(), { waitMs: 8000 });
      statuses.push(res.statuses[0]);
    }
    // The race (reusing a connection the upstream just closed) may cost a 502
    // for a non-idempotent POST, but never a duplicate upstream request.
    assert.ok(statuses.every((s) => s === 200 || s === 502), `statuses ${statuses}`);
    assert.ok(statuses.filter((s) => s === 200).length >= 3, `mostly served: ${statuses}`);
    assert.ok(upstream.state.requestCount - before <= 6, 'no request delivered twice');
    upstream.setMode('ok');
  }));

  test('REL-CLI-01: client disconnects before the upstream answers → upstream connection closed within 1 s', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('hang');
    const conns = upstream.state.connections.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.write(post().replace('Connection: close\r\n', ''));
    const deadline = Date.now() + 5000;
    while (upstream.state.requestCount === 0 || upstream.state.connections.length === conns) {
      if (Date.now() > deadline) break;
      await sleep(20);
    }
    const conn = upstream.state.connections.at(-1);
    await sleep(100);
    const closedAt = Date.now();
    sock.destroy();
    while (conn.closedAt === undefined && Date.now() < closedAt + 3000) await sleep(20);
    assert.ok(conn.closedAt !== undefined, 'upstream connection closed');
    assert.ok(conn.closedAt - closedAt <= 1000, `closed after ${conn.closedAt - closedAt} ms`);
    upstream.setMode('ok');
  }));

  test('REL-CLI-02: client disconnects mid-SSE → upstream connection closed within 1 s', { timeout: 20000 }, withLogs(async () => {
    upstream.setMode('sse-forever');
    const sock = net.connect(gw.port, '127.0.0.1');
    let got = '';
    await new Promise((r) => sock.on('connect', r));
    sock.write(getSse());
    const deadline = Date.now() + 5000;
    sock.on('data', (d) => (got += d.toString('latin1')));
    while (!got.includes('data: 2') && Date.now() < deadline) await sleep(20);
    assert.ok(got.includes('data: 2'), `events flow: ${JSON.stringify(got.slice(0, 200))}`);
    const conn = upstream.state.connections.at(-1);
    const closedAt = Date.now();
    sock.destroy();
    while (conn.closedAt === undefined && Date.now() < closedAt + 3000) await sleep(20);
    assert.ok(conn.closedAt !== undefined, 'upstream SSE connection closed');
    assert.ok(conn.closedAt - closedAt <= 1000, `closed after ${conn.closedAt - closedAt} ms`);
    upstream.setMode('ok');
  }));

  test('REL-CLI-06/H1-44: EMFILE under ulimit -n 256 with 1000 connections: accept loop does not spin, service recovers', { timeout: 60000 }, withLogs(async () => {
    const dir = await makeTempDir('mag-emfile-');
    try {
      const port = await freePort();
      const { config, resource } = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile });
      config.admin = { address: '' };
      const cfg = await writeConfig(dir, config);
      const bin = requireFile(GATEWAY_BIN, 'mcp-auth-gateway');
      // exec: the bash pid becomes the gateway's pid, with the lowered limit.
      const proc = await startProcess('gateway-emfile', '/bin/bash', ['-c', 'ulimit -n 256 && exec "$0" --config "$1"', bin, cfg]);
      const pid = proc.child.pid;
      const sockets = [];
      let errors = 0;
      await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.on('connect', resolve);
            s.on('error', () => {
              errors++;
              resolve();
            });
            s.on('close', resolve);
            sockets.push(s);
          }),
        ),
      );
      // Connections beyond the descriptor limit wait in the backlog or are dropped; the
      // gateway must idle meanwhile, not busy-loop on accept() returning EMFILE.
      // Proof that the limit was reached (otherwise this test could not fail).
      const fds = readdirSync(`/proc/${pid}/fd`).length;
      assert.ok(fds >= 240, `gateway holds ${fds} descriptors: EMFILE not reached`);
      const cpu0 = cpuSeconds(pid);
      await sleep(2000);
      const cpu = cpuSeconds(pid) - cpu0;
      assert.ok(proc.running, 'gateway alive');
      assert.ok(cpu < 0.6, `gateway used ${cpu.toFixed(2)} s CPU in 2 s while at EMFILE (spinning?)`);
      for (const s of sockets) s.destroy();
      await sleep(1500);
      const t = await mintToken(key, { iss: ISSUER, aud: resource });
      let ok = false;
      for (let i = 0; i < 10 && !ok; i++) {
        const res = await rawExchange(
          port,
          `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
          { waitMs: 3000 },
        );
        ok = res.statuses[0] === 200;
        if (!ok) await sleep(500);
      }
      assert.ok(ok, 'served again once descriptors are free');
      console.log(`emfile: ${fds} gateway fds, ${errors} client-side errors, gateway CPU ${cpu.toFixed(2)} s in 2 s`);
      await proc.stop();
    } finally {
      await removeTempDir(dir);
    }
  }));
});
