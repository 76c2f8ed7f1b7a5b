// Hostile HTTP/2 (H2-* in docs/security.md): raw frames over a TCP socket to
// the gateway's cleartext listener (h2c with prior knowledge), built by
// lib/h2raw.mjs. Each case must end in a bounded-cost connection error
// (GOAWAY and/or close) or a stream reset, never a crash; after every case
// the gateway must still answer a legitimate HTTP/2 request and its RSS must
// stay within a few MiB of where it started. Upstream: a raw-TCP recorder, so
// "NF" (nothing forwarded) is checked on the bytes it really received.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import {
  block, continuation, data, E, F, frame, goaway, H2Client, headers, indexed, literal, literalIndexed, ping,
  priority, requestFields, rstStream, S, settings, T, windowUpdate,
} from './lib/h2raw.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { freePort } from './lib/net.mjs';
import { rssKiB, SANITIZED } from './lib/metrics.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { rawExchange, startRawUpstream } from './lib/raw_upstream.mjs';
import { generateSigningKey, mintToken } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.hostile-h2.example';
const BODY = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

const rssBoundKiB = (kib) => (SANITIZED ? Infinity : kib);
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks (100/s)
}

describe('hostile HTTP/2 frames', () => {
  let tmp;
  let upstream;
  let jwks;
  let gw; // { proc, port }
  let key;
  let token;
  let baselineRss;

  before(async () => {
    tmp = await makeTempDir('mag-h2-');
    upstream = await startRawUpstream('ok');
    key = await generateSigningKey('h2-key');
    jwks = await startJwksServer();
    jwks.setKeys([key]);
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}`, request_body_timeout: 5 }],
      providers: { test: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'], clock_skew: 0 } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['test'] } }],
    });
    const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    gw = { proc, port };
    token = await mintToken(key, { iss: ISSUER, aud: resource });
    // The keys are fetched after the listener is up: wait for that fetch,
    // then for a first 200 (on a loaded or sanitized build it may lag).
    await jwks.waitForRequest(0);
    for (let i = 0; ; i++) {
      try {
        await legitimateRequest(); // also warms up the upstream pool
        break;
      } catch (e) {
        if (i >= 20) throw e;
        await settle(500);
      }
    }
    baselineRss = rssKiB(gw.proc.child.pid);
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await jwks?.close();
    await removeTempDir(tmp);
  });

  const fields = (opts = {}) => requestFields({ port: gw.port, token, ...opts });
  const connect = (opts) => H2Client.connect(gw.port, opts);

  // A valid POST on a fresh connection: 200 from the upstream.
  async function legitimateRequest() {
    const c = await connect();
    try {
      c.send(Buffer.concat([headers(1, block(fields())), data(1, BODY, true)]));
      await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
      assert.deepEqual(c.streamOutcome(1), { status: 200 }, `legitimate request: ${c.describe()}`);
    } finally {
      c.close();
    }
  }

  // After every case: alive, still serving, memory back near the baseline.
  afterEach(async () => {
    assert.ok(gw.proc.running, 'gateway died');
    await legitimateRequest();
    const rss = rssKiB(gw.proc.child.pid);
    assert.ok(rss < baselineRss + rssBoundKiB(24 * 1024), `RSS ${rss} KiB vs baseline ${baselineRss} KiB`);
  });

  // A stream must end in a reset (with one of `codes`), or the connection
  // in a GOAWAY; never a 200.
  async function expectStreamRefused(c, id, { codes = [E.PROTOCOL_ERROR], label }) {
    await c.waitFor(() => c.streamOutcome(id) !== undefined, 10000);
    const o = c.streamOutcome(id);
    assert.ok(!('status' in o) || o.status >= 400, `${label}: ${JSON.stringify(o)} ${c.describe()}`);
    if ('reset' in o) assert.ok(codes.includes(o.reset), `${label}: reset code ${o.reset}, want ${codes}`);
    return o;
  }

  async function upstreamQuiet() {
    let last = -1;
    for (let i = 0; i < 25 && upstream.state.bytes.length !== last; i++) {
      last = upstream.state.bytes.length;
      await settle(200);
    }
  }

  test('H2-01 rapid reset with valid tokens: GOAWAY, bounded upstream work and CPU', { timeout: 120000 }, withLogs(async () => {
    await upstreamQuiet();
    const beforeConns = upstream.state.connections.length;
    const beforeReqs = upstream.state.requestCount;
    const cpu0 = cpuSeconds(gw.proc.child.pid);
    const c = await connect();
    const blk = block(fields({ method: 'GET' }));
    const frames = [];
    for (let i = 0, id = 1; i < 20000; i++, id += 2) frames.push(Buffer.concat([headers(id, blk, { endStream: true }), rstStream(id, E.CANCEL)]));
    const t0 = Date.now();
    const sent = await c.sendAll(frames, { batch: 200 });
    // nghttp2's stream-reset rate limit (1000 + 33/s) answers GOAWAY
    // INTERNAL_ERROR (its upstream choice since 1.57); the gateway's own
    // frame budget would say ENHANCE_YOUR_CALM.
    const code = await c.connectionError([E.INTERNAL_ERROR, E.ENHANCE_YOUR_CALM], 30000);
    const seconds = (Date.now() - t0) / 1000;
    c.close();
    await settle(1000);
    const cpu = cpuSeconds(gw.proc.child.pid) - cpu0;
    const conns = upstream.state.connections.length - beforeConns;
    const reqs = upstream.state.requestCount - beforeReqs;
    console.log(`H2-01: sent ${sent} HEADERS+RST pairs, GOAWAY code ${code}, upstream connections ${conns}, requests ${reqs}, gateway CPU ${cpu.toFixed(2)} s`);
    assert.ok([E.INTERNAL_ERROR, E.ENHANCE_YOUR_CALM].includes(code), `rapid reset must end in a GOAWAY: ${c.describe()}`);
    assert.ok(sent < 20000 || c.closed, 'the connection was cut before all 20 000 streams');
    // Each stream that got through authentication may have started an
    // upstream connect before its reset: bounded by the reset budget
    // (1000 + 33/s while the flood lasted), never by the 20 000 streams.
    const budget = 1000 + 33 * seconds + 100;
    assert.ok(reqs <= budget && conns <= budget, `upstream saw ${reqs} requests on ${conns} connections in ${seconds} s`);
    assert.ok(cpu < (SANITIZED ? 60 : 20), `gateway CPU ${cpu} s`);
  }));

  test('H2-02 rapid reset with forged tokens and unknown kids: at most one JWKS refetch', { timeout: 120000 }, withLogs(async () => {
    const other = await generateSigningKey('h2-key'); // same kid, other key: a forged signature
    const forged = await mintToken(other, { iss: ISSUER, aud: `http://127.0.0.1:${gw.port}/mcp` });
    const unknownKid = await mintToken(other, { iss: ISSUER, aud: `http://127.0.0.1:${gw.port}/mcp`, kid: 'no-such-kid' });
    const jwksBefore = jwks.count();
    const beforeReqs = upstream.state.requestCount;
    for (const t of [forged, unknownKid]) {
      const c = await connect();
      const blk = block(requestFields({ port: gw.port, token: t, method: 'GET' }));
      const frames = [];
      for (let i = 0, id = 1; i < 5000; i++, id += 2) frames.push(Buffer.concat([headers(id, blk, { endStream: true }), rstStream(id)]));
      await c.sendAll(frames, { batch: 200 });
      const code = await c.connectionError([E.INTERNAL_ERROR, E.ENHANCE_YOUR_CALM], 30000);
      assert.ok(code !== undefined || c.closed, c.describe());
      c.close();
    }
    await settle(1000);
    assert.equal(upstream.state.requestCount - beforeReqs, 0, 'no forged request reached the upstream');
    assert.ok(jwks.count() - jwksBefore <= 1, `JWKS fetched ${jwks.count() - jwksBefore} times for 5000 unknown-kid streams`);
  }));

  test('H2-03 streams beyond MAX_CONCURRENT_STREAMS=100 are refused; upstream sees at most 100', { timeout: 60000 }, withLogs(async () => {
    await upstreamQuiet();
    const beforeConns = upstream.state.connections.length;
    const c = await connect();
    await c.waitFor(() => c.frames.some((f) => f.type === T.SETTINGS && !(f.flags & F.ACK)));
    const blk = block(fields());
    const frames = [];
    for (let i = 0, id = 1; i < 1000; i++, id += 2) frames.push(headers(id, blk)); // never END_STREAM
    await c.sendAll(frames, { batch: 100 });
    await c.waitFor(() => c.resets().length > 0 || c.goaway() !== undefined, 10000);
    const refused = c.resets().filter((f) => f.payload.readUInt32BE(0) === E.REFUSED_STREAM).length;
    const code = c.goawayCode();
    console.log(`H2-03: ${refused} REFUSED_STREAM resets, GOAWAY ${code}`);
    assert.ok(refused >= 1 || code === E.PROTOCOL_ERROR || code === E.REFUSED_STREAM, c.describe());
    // Stream 1..199 (the first 100) may be open; the one after must not be.
    const o = c.streamOutcome(201);
    assert.ok(o !== undefined && !('status' in o && o.status === 200), `stream 201: ${JSON.stringify(o)}`);
    await settle(500);
    assert.ok(upstream.state.connections.length - beforeConns <= 100, `upstream connections ${upstream.state.connections.length - beforeConns}`);
    c.close();
  }));

  test('H2-04 HEADERS + 10 000 empty CONTINUATION frames: GOAWAY after a few', { timeout: 60000 }, withLogs(async () => {
    const c = await connect();
    const blk = block(fields({ method: 'GET' }));
    const frames = [headers(1, blk, { endStream: true, endHeaders: false })];
    for (let i = 0; i < 10000; i++) frames.push(continuation(1, Buffer.alloc(0)));
    await c.sendAll(frames, { batch: 500 });
    const code = await c.connectionError(undefined, 10000);
    assert.ok(code !== undefined || c.closed, c.describe());
    assert.ok(!c.statuses.has(1), 'no response to the flooded stream');
    c.close();
  }));

  test('H2-05 a 1 MiB header list in 16 KiB CONTINUATIONs; 80 KiB in 5 frames: refused, nothing forwarded', { timeout: 60000 }, withLogs(async () => {
    await upstreamQuiet();
    const before = upstream.state.bytes.length;
    // 64 CONTINUATIONs: the continuation cap (8) or the header-list cap ends it.
    const c = await connect();
    const pad = literal('x-pad', 'p'.repeat(16 * 1024 - 16));
    const frames = [headers(1, block(fields({ method: 'GET' })), { endStream: true, endHeaders: false })];
    for (let i = 0; i < 64; i++) frames.push(continuation(1, pad, i === 63));
    await c.sendAll(frames, { batch: 8 });
    await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
    const o1 = c.streamOutcome(1);
    assert.ok(!('status' in o1) || o1.status === 431, `1 MiB: ${JSON.stringify(o1)} ${c.describe()}`);
    c.close();
    // Five frames of 16 KiB: under the continuation cap, over the 64 KiB list cap.
    const d = await connect();
    const f2 = [headers(3, block(fields({ method: 'GET' })), { endStream: true, endHeaders: false })];
    for (let i = 0; i < 5; i++) f2.push(continuation(3, pad, i === 4));
    d.send(Buffer.concat(f2));
    const o2 = await expectStreamRefused(d, 3, { codes: [E.PROTOCOL_ERROR, E.INTERNAL_ERROR, E.REFUSED_STREAM], label: '80 KiB list' });
    assert.ok(!('status' in o2) || o2.status === 431, JSON.stringify(o2));
    d.close();
    await settle(300);
    assert.equal(upstream.state.bytes.length - before, 0, 'NF');
  }));

  test('H2-06 HPACK bomb: a 4 KiB table entry referenced 4000 times is reset at the cap, RSS flat', { timeout: 60000 }, withLogs(async () => {
    const rss0 = rssKiB(gw.proc.child.pid);
    const c = await connect();
    // The entry goes into the dynamic table on stream 1 (a normal request).
    c.send(headers(1, Buffer.concat([block(fields({ method: 'GET' })), literalIndexed('x-bomb', 'b'.repeat(4000))]), { endStream: true }));
    await c.waitFor(() => c.streamOutcome(1) !== undefined);
    const refs = Buffer.concat(Array.from({ length: 4000 }, () => indexed(62)));
    const bomb = Buffer.concat([block(fields({ method: 'GET' })), refs]);
    // 4000 one-byte references ≈ 4 KiB of block, ≈16 MiB decoded.
    c.send(headers(3, bomb, { endStream: true }));
    const o = await expectStreamRefused(c, 3, { codes: [E.PROTOCOL_ERROR, E.INTERNAL_ERROR], label: 'HPACK bomb' });
    assert.ok(!('status' in o) || o.status === 431, JSON.stringify(o));
    const growth = rssKiB(gw.proc.child.pid) - rss0;
    assert.ok(growth < rssBoundKiB(8 * 1024), `RSS grew ${growth} KiB`);
    c.close();
  }));

  test('H2-07 one header of more than 64 KiB: COMPRESSION_ERROR or a reset', { timeout: 30000 }, withLogs(async () => {
    const c = await connect();
    const blk = Buffer.concat([block(fields({ method: 'GET' })), literal('x-huge', 'h'.repeat(70 * 1024))]);
    const frames = [];
    for (let off = 0, first = true; off < blk.length; off += 16384, first = false) {
      const part = blk.subarray(off, off + 16384);
      const last = off + 16384 >= blk.length;
      frames.push(first ? headers(1, part, { endStream: true, endHeaders: last }) : continuation(1, part, last));
    }
    c.send(Buffer.concat(frames));
    await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
    const o = c.streamOutcome(1);
    assert.ok(!('status' in o) || o.status === 431, `${JSON.stringify(o)} ${c.describe()}`);
    c.close();
  }));

  // A client that never reads while it floods: the gateway must close, not queue.
  async function floodWithoutReading(frameBuf, count) {
    const rss0 = rssKiB(gw.proc.child.pid);
    const c = await connect({ read: false });
    const frames = Array.from({ length: count }, () => frameBuf);
    const sent = await Promise.race([c.sendAll(frames, { batch: 1000 }), settle(20000).then(() => -1)]);
    c.sock.resume(); // now read what the gateway sent before it closed
    await c.waitFor(() => c.closed, 15000);
    const growth = rssKiB(gw.proc.child.pid) - rss0;
    c.close();
    return { sent, growth, code: c.goawayCode(), c };
  }

  test('H2-08 SETTINGS flood while not reading: connection closed', { timeout: 60000 }, withLogs(async () => {
    const r = await floodWithoutReading(settings([[S.MAX_CONCURRENT_STREAMS, 100]]), 100000);
    console.log(`H2-08: frames written before close ${r.sent}, GOAWAY ${r.code}, RSS +${r.growth} KiB`);
    assert.ok(r.c.closed);
    assert.ok(r.growth < rssBoundKiB(16 * 1024), `RSS grew ${r.growth} KiB`);
  }));

  test('H2-09 SETTINGS: 33 entries, unknown id, ENABLE_PUSH=2, window 2^31, frame size out of range', { timeout: 60000 }, withLogs(async () => {
    const cases = [
      ['33 entries', settings(Array.from({ length: 33 }, () => [S.MAX_CONCURRENT_STREAMS, 100])), [E.ENHANCE_YOUR_CALM]],
      ['ENABLE_PUSH=2', settings([[S.ENABLE_PUSH, 2]]), [E.PROTOCOL_ERROR]],
      ['INITIAL_WINDOW_SIZE=2^31', settings([[S.INITIAL_WINDOW_SIZE, 2 ** 31]]), [E.FLOW_CONTROL_ERROR]],
      ['MAX_FRAME_SIZE=16383', settings([[S.MAX_FRAME_SIZE, 16383]]), [E.PROTOCOL_ERROR]],
      ['MAX_FRAME_SIZE=2^24', settings([[S.MAX_FRAME_SIZE, 2 ** 24]]), [E.PROTOCOL_ERROR]],
    ];
    for (const [label, buf, codes] of cases) {
      const c = await connect();
      c.send(buf);
      const code = await c.connectionError(codes, 10000);
      assert.ok(codes.includes(code), `${label}: GOAWAY ${code} ${c.describe()}`);
      c.close();
    }
    // An unknown setting is ignored: the connection keeps working.
    const c = await connect();
    c.send(Buffer.concat([settings([[0x99, 7]]), headers(1, block(fields())), data(1, BODY, true)]));
    await c.waitFor(() => c.streamOutcome(1) !== undefined);
    assert.deepEqual(c.streamOutcome(1), { status: 200 }, c.describe());
    c.close();
  }));

  test('H2-10 PING flood while not reading: connection closed', { timeout: 60000 }, withLogs(async () => {
    const r = await floodWithoutReading(ping(), 100000);
    console.log(`H2-10: frames written before close ${r.sent}, GOAWAY ${r.code}, RSS +${r.growth} KiB`);
    assert.ok(r.c.closed);
    assert.ok(r.growth < rssBoundKiB(16 * 1024), `RSS grew ${r.growth} KiB`);
  }));

  test('H2-11 empty DATA, PRIORITY and WINDOW_UPDATE floods end in GOAWAY ENHANCE_YOUR_CALM', { timeout: 90000 }, withLogs(async () => {
    const open = headers(1, block(fields())); // POST, body never ends
    const cases = [
      ['10 000 empty DATA', [open, ...Array.from({ length: 10000 }, () => data(1, ''))]],
      ['10 000 PRIORITY on idle streams', Array.from({ length: 10000 }, (_, i) => priority(3 + 2 * i, 0, 16))],
      ['100 000 WINDOW_UPDATE(1)', Array.from({ length: 100000 }, () => windowUpdate(0, 1))],
    ];
    for (const [label, frames] of cases) {
      const c = await connect();
      await c.sendAll(frames, { batch: 1000 });
      // GOAWAY ENHANCE_YOUR_CALM, or only the close when the flood was still
      // being written (the client's socket is reset before it reads the GOAWAY).
      const code = await c.connectionError(undefined, 15000);
      assert.ok(code === E.ENHANCE_YOUR_CALM || (code === undefined && c.closed), `${label}: GOAWAY ${code} ${c.describe()}`);
      c.close();
    }
  }));

  test('H2-12 CONTINUATION misuse is a PROTOCOL_ERROR', { timeout: 60000 }, withLogs(async () => {
    const blk = block(fields({ method: 'GET' }));
    const cases = [
      ['after END_HEADERS', [headers(1, blk, { endStream: true }), continuation(1, literal('x-a', 'b'), true)]],
      ['on stream 0', [continuation(0, literal('x-a', 'b'), true)]],
      ['PING between HEADERS and CONTINUATION', [headers(1, blk, { endStream: true, endHeaders: false }), ping(), continuation(1, Buffer.alloc(0), true)]],
      ['after DATA', [headers(1, block(fields())), data(1, BODY), continuation(1, literal('x-a', 'b'), true)]],
    ];
    for (const [label, frames] of cases) {
      const c = await connect();
      c.send(Buffer.concat(frames));
      const code = await c.connectionError([E.PROTOCOL_ERROR], 10000);
      assert.equal(code, E.PROTOCOL_ERROR, `${label}: ${c.describe()}`);
      c.close();
    }
  }));

  test('H2-12b a legitimate HEADERS + 3 CONTINUATIONs written one byte per write is answered', { timeout: 60000 }, withLogs(async () => {
    const c = await connect();
    c.sock.setNoDelay(true);
    await c.waitFor(() => c.frames.some((f) => f.type === T.SETTINGS));
    const blk = block(fields({ extra: [['x-a', 'a'.repeat(100)], ['x-b', 'b'.repeat(100)], ['x-c', 'c'.repeat(100)]] }));
    const q = Math.ceil(blk.length / 4);
    const bytes = Buffer.concat([
      headers(1, blk.subarray(0, q), { endHeaders: false }),
      continuation(1, blk.subarray(q, 2 * q)), continuation(1, blk.subarray(2 * q, 3 * q)),
      continuation(1, blk.subarray(3 * q), true), data(1, BODY, true),
    ]);
    // A timer between bytes (not setImmediate): each byte is its own TCP
    // segment and, mostly, its own read on the gateway's side.
    for (let i = 0; i < bytes.length && !c.closed; i++) {
      c.send(bytes.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 1));
    }
    await c.waitFor(() => c.streamOutcome(1) !== undefined, 15000);
    assert.deepEqual(c.streamOutcome(1), { status: 200 }, c.describe());
    c.close();
  }));

  test('H2-13 even stream ids and DATA on stream 0 are connection errors; lower or reused ids are never processed', { timeout: 60000 }, withLogs(async () => {
    const get = (id) => headers(id, block(fields({ method: 'GET' })), { endStream: true });
    const cases = [
      ['even stream id', [get(2)], [E.PROTOCOL_ERROR]],
      ['DATA on stream 0', [data(0, 'x')], [E.PROTOCOL_ERROR]],
    ];
    for (const [label, frames, codes] of cases) {
      const c = await connect();
      c.send(Buffer.concat(frames));
      const code = await c.connectionError(codes, 10000);
      assert.ok(codes.includes(code), `${label}: ${c.describe()}`);
      c.close();
    }
    // A lower odd id than one already used (never opened, or closed after
    // its response): nghttp2 ignores the header block on purpose (a late
    // trailer after our RST_STREAM looks the same) instead of PROTOCOL_ERROR.
    // Pinned: never processed, never forwarded, the connection stays usable.
    await upstreamQuiet();
    const beforeReqs = upstream.state.requestCount;
    const c = await connect();
    c.send(get(5));
    await c.waitFor(() => c.streamOutcome(5) !== undefined);
    c.send(Buffer.concat([get(3), get(5)]));
    await settle(500);
    assert.ok(!c.statuses.has(3), `lower id answered: ${c.describe()}`);
    assert.equal([...c.frames].filter((f) => f.type === T.HEADERS && f.streamId === 5).length, 1, `stream 5 answered twice: ${c.describe()}`);
    const g = c.goawayCode();
    assert.ok(g === undefined || g === E.PROTOCOL_ERROR || g === E.STREAM_CLOSED, c.describe());
    if (g === undefined) {
      c.send(get(7));
      await c.waitFor(() => c.streamOutcome(7) !== undefined);
      assert.deepEqual(c.streamOutcome(7), { status: 200 }, c.describe());
    }
    await settle(300);
    assert.equal(upstream.state.requestCount - beforeReqs, g === undefined ? 2 : 1, 'only streams 5 (and 7) reached the upstream');
    c.close();
  }));

  // Requests that must be reset (PROTOCOL_ERROR) and never reach the upstream.
  async function expectMalformed(cases) {
    await upstreamQuiet();
    const before = upstream.state.bytes.length;
    for (const [label, flds] of cases) {
      const c = await connect();
      c.send(Buffer.concat([headers(1, Buffer.concat(flds.map(([n, v]) => literal(n, v)))), data(1, BODY, true)]));
      await expectStreamRefused(c, 1, { codes: [E.PROTOCOL_ERROR], label });
      c.close();
    }
    await settle(300);
    assert.equal(upstream.state.bytes.length - before, 0, `NF: ${upstream.state.bytes.subarray(before).toString('latin1').slice(0, 300)}`);
  }

  test('H2-14 malformed pseudo-headers are reset and not forwarded', { timeout: 60000 }, withLogs(async () => {
    const base = fields();
    const without = (name) => base.filter(([n]) => n !== name);
    await expectMalformed([
      ['missing :path', without(':path')],
      ['empty :path', base.map(([n, v]) => [n, n === ':path' ? '' : v])],
      ['duplicate :method', [[':method', 'POST'], ...base]],
      ['pseudo after a regular header', [...without(':path'), [':path', '/mcp']]],
      ['unknown :foo', [...base.slice(0, 4), [':foo', 'bar'], ...base.slice(4)]],
      [':status in a request', [...base.slice(0, 4), [':status', '200'], ...base.slice(4)]],
      [':authority differs from host', [...base, ['host', 'evil.example']]],
    ]);
  }));

  test('H2-15 connection-specific headers and te other than trailers are reset', { timeout: 60000 }, withLogs(async () => {
    const base = fields();
    await expectMalformed([
      ['connection', [...base, ['connection', 'close']]],
      ['transfer-encoding', [...base, ['transfer-encoding', 'chunked']]],
      ['keep-alive', [...base, ['keep-alive', 'timeout=5']]],
      ['upgrade', [...base, ['upgrade', 'websocket']]],
      ['proxy-connection', [...base, ['proxy-connection', 'keep-alive']]],
      ['te: gzip', [...base, ['te', 'gzip']]],
    ]);
  }));

  test('H2-16 upper-case names, CR/LF/NUL and edge whitespace in values are reset', { timeout: 60000 }, withLogs(async () => {
    const base = fields();
    await expectMalformed([
      ['upper-case name', [...base, ['X-Upper', 'v']]],
      ['CRLF in a value', [...base, ['x-a', 'v\r\nx-injected: 1']]],
      ['NUL in a value', [...base, ['x-a', 'v\x00w']]],
      ['leading space in a value', [...base, ['x-a', ' v']]],
      ['trailing space in a value', [...base, ['x-a', 'v ']]],
    ]);
  }));

  test('H2-17 content-length that disagrees with the DATA: reset, no complete request upstream', { timeout: 60000 }, withLogs(async () => {
    const beforeReqs = upstream.state.requestCount;
    for (const [label, body] of [['5 of 10 bytes', '12345'], ['20 of 10 bytes', '12345678901234567890']]) {
      const c = await connect();
      c.send(Buffer.concat([headers(1, block(fields({ extra: [['content-length', '10']] }))), data(1, body, true)]));
      await expectStreamRefused(c, 1, { codes: [E.PROTOCOL_ERROR], label });
      c.close();
    }
    await settle(500);
    assert.equal(upstream.state.requestCount - beforeReqs, 0, 'no complete request upstream');
  }));

  test('H2-18 two authorization fields are refused; authorization in trailers is never used; split cookies pass', { timeout: 60000 }, withLogs(async () => {
    const beforeReqs = upstream.state.requestCount;
    const c = await connect();
    c.send(Buffer.concat([headers(1, block([...fields(), ['authorization', 'Bearer other']])), data(1, BODY, true)]));
    await c.waitFor(() => c.streamOutcome(1) !== undefined);
    const o1 = c.streamOutcome(1);
    assert.ok([400, 401].includes(o1.status) || o1.reset === E.PROTOCOL_ERROR, `two authorization: ${JSON.stringify(o1)}`);
    // No authorization in the head, a valid one in the trailers: 401.
    c.send(Buffer.concat([headers(3, block(fields({ token: undefined }))), data(3, BODY),
      headers(3, block([['authorization', `Bearer ${token}`]]), { endStream: true })]));
    await c.waitFor(() => c.streamOutcome(3) !== undefined);
    assert.equal(c.streamOutcome(3).status, 401, `trailer auth: ${c.describe()}`);
    await settle(300);
    assert.equal(upstream.state.requestCount - beforeReqs, 0, 'NF for both');
    // Cookies split across fields are legal and joined for the upstream.
    c.send(Buffer.concat([headers(5, block([...fields(), ['cookie', 'a=1'], ['cookie', 'b=2']])), data(5, BODY, true)]));
    await c.waitFor(() => c.streamOutcome(5) !== undefined);
    assert.deepEqual(c.streamOutcome(5), { status: 200 }, c.describe());
    c.close();
  }));

  test('H2-19 WINDOW_UPDATE beyond 2^31-1 is a FLOW_CONTROL_ERROR (connection and stream)', { timeout: 30000 }, withLogs(async () => {
    const c = await connect();
    c.send(Buffer.concat([windowUpdate(0, 2 ** 31 - 1), windowUpdate(0, 2 ** 31 - 1)]));
    assert.equal(await c.connectionError([E.FLOW_CONTROL_ERROR], 10000), E.FLOW_CONTROL_ERROR, c.describe());
    c.close();
    const d = await connect();
    d.send(Buffer.concat([headers(1, block(fields())), windowUpdate(1, 2 ** 31 - 1), windowUpdate(1, 2 ** 31 - 1)]));
    await d.waitFor(() => d.streamOutcome(1) !== undefined);
    const o = d.streamOutcome(1);
    assert.ok(o.reset === E.FLOW_CONTROL_ERROR || o.goaway === E.FLOW_CONTROL_ERROR, `${JSON.stringify(o)} ${d.describe()}`);
    d.close();
  }));

  test('H2-20 frames larger than SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR', { timeout: 30000 }, withLogs(async () => {
    for (const [label, f] of [
      ['DATA 16385', [headers(1, block(fields())), data(1, Buffer.alloc(16385, 'x'))]],
      ['HEADERS 16385', [headers(1, Buffer.concat([block(fields()), literal('x-pad', 'p'.repeat(16385))]))]],
    ]) {
      const c = await connect();
      c.send(Buffer.concat(f));
      const code = await c.connectionError([E.FRAME_SIZE_ERROR], 10000);
      assert.equal(code, E.FRAME_SIZE_ERROR, `${label}: ${c.describe()}`);
      c.close();
    }
  }));

  test('H2-21 a bad preface is closed (HTTP/1.1 400 at most); a preface without SETTINGS is a PROTOCOL_ERROR', { timeout: 30000 }, withLogs(async () => {
    const bad = await rawExchange(gw.port, 'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', { waitMs: 3000 });
    assert.ok(bad.closed, 'closed');
    assert.ok(bad.statuses.every((s) => s === 400 || s === 505), `statuses ${bad.statuses}`);
    const c = await connect({ preface: false });
    c.send(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), ping()]));
    const code = await c.connectionError([E.PROTOCOL_ERROR], 10000);
    assert.ok(code === E.PROTOCOL_ERROR || c.closed, c.describe());
    c.close();
  }));

  test('H2-22 client GOAWAY mid-stream: the stream in flight completes', { timeout: 30000 }, withLogs(async () => {
    const c = await connect();
    c.send(Buffer.concat([headers(1, block(fields())), data(1, BODY.slice(0, 10))]));
    await settle(200);
    c.send(goaway(0));
    c.send(data(1, BODY.slice(10), true));
    await c.waitFor(() => c.streamOutcome(1) !== undefined);
    assert.deepEqual(c.streamOutcome(1), { status: 200 }, c.describe());
    c.close();
  }));

  test('H2-23/REL-JWKS-15 RST_STREAM while the JWKS fetch or the upstream is pending: upstream request cancelled, no crash', { timeout: 60000 }, withLogs(async () => {
    // (a) unknown kid, JWKS server slow: the stream waits for the fetch.
    jwks.state.mode = 'slow';
    try {
      const t = await mintToken(await generateSigningKey('late-kid'), { iss: ISSUER, aud: `http://127.0.0.1:${gw.port}/mcp`, kid: 'late-kid' });
      const c = await connect();
      c.send(headers(1, block(requestFields({ port: gw.port, token: t, method: 'GET' })), { endStream: true }));
      await settle(300);
      c.send(rstStream(1));
      await settle(300);
      c.close();
    } finally {
      jwks.state.mode = 'ok';
    }
    // (b) the upstream accepts and never answers.
    upstream.setMode('hang');
    try {
      await upstreamQuiet();
      const seen = new Map(upstream.state.connections.map((u) => [u, u.requests]));
      const c = await connect();
      c.send(Buffer.concat([headers(1, block(fields())), data(1, BODY, true)]));
      // The upstream connection (new or pooled) that received this request.
      let conn;
      const deadline = Date.now() + 5000;
      while (!conn && Date.now() < deadline) {
        conn = upstream.state.connections.find((u) => u.closedAt === undefined && u.requests > (seen.get(u) ?? 0));
        if (!conn) await settle(50);
      }
      assert.ok(conn, `the request did not reach the hanging upstream: ${c.describe()}`);
      c.send(rstStream(1));
      const t0 = Date.now();
      while (conn.closedAt === undefined && Date.now() - t0 < 5000) await settle(50);
      assert.ok(conn.closedAt !== undefined, 'upstream request aborted after the client reset');
      c.close();
    } finally {
      upstream.setMode('ok');
    }
    await settle(9000); // the slow JWKS answer arrives after the stream is gone (ASan build: no use-after-free)
  }));

  test('H1-43 over HTTP/2: a trickled body is cut by request_body_timeout: 408, then RST_STREAM(NO_ERROR)', { timeout: 40000 }, withLogs(async () => {
    const beforeReqs = upstream.state.requestCount;
    const c = await connect();
    const t0 = Date.now();
    c.send(headers(1, block(fields())));
    for (let i = 0; i < 15 && c.streamOutcome(1) === undefined; i++) {
      c.send(data(1, ' '));
      await settle(1000);
    }
    await c.waitFor(() => c.streamOutcome(1) !== undefined, 5000);
    const elapsed = Date.now() - t0;
    assert.deepEqual(c.streamOutcome(1), { status: 408 }, c.describe());
    assert.ok(elapsed > 4500 && elapsed < 12000, `cut after ${elapsed} ms (deadline 5 s)`);
    await c.waitFor(() => c.resetCode(1) !== undefined, 5000);
    assert.equal(c.resetCode(1), E.NO_ERROR, c.describe());
    assert.equal(upstream.state.requestCount - beforeReqs, 0, 'nothing complete forwarded');
    c.close();
  }));

  test('JWT-TRN-08 CONNECT over HTTP/2 (no :path) is answered 501 or reset, not forwarded', { timeout: 30000 }, withLogs(async () => {
    await upstreamQuiet();
    const before = upstream.state.bytes.length;
    const c = await connect();
    c.send(headers(1, block([[':method', 'CONNECT'], [':authority', `127.0.0.1:${gw.port}`], ['authorization', `Bearer ${token}`]])));
    await c.waitFor(() => c.streamOutcome(1) !== undefined);
    const o = c.streamOutcome(1);
    assert.ok(o.status === 501 || o.status === 405 || o.reset === E.PROTOCOL_ERROR, JSON.stringify(o));
    c.close();
    await settle(300);
    assert.equal(upstream.state.bytes.length - before, 0, 'NF');
  }));

  test('REL-JWKS-01 JWKS port closed at startup: the gateway starts and answers 401, never 200', { timeout: 30000 }, withLogs(async () => {
    const closedPort = await freePort();
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: '' },
      providers: { test: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${closedPort}/jwks`, algorithms: ['RS256'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['test'] } }],
    }, 'no-jwks.yaml');
    const proc = await startProcess('gateway-no-jwks', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    try {
      const t = await mintToken(key, { iss: ISSUER, aud: resource });
      const beforeReqs = upstream.state.requestCount;
      const c = await H2Client.connect(port);
      c.send(Buffer.concat([headers(1, block(requestFields({ port, token: t }))), data(1, BODY, true)]));
      await c.waitFor(() => c.streamOutcome(1) !== undefined, 15000);
      const o = c.streamOutcome(1);
      assert.ok(o.status === 401 || o.status === 503, `no JWKS: ${JSON.stringify(o)}`);
      c.close();
      assert.equal(upstream.state.requestCount - beforeReqs, 0, 'NF');
      assert.ok(proc.running, 'still running');
    } finally {
      await proc.stop();
    }
  }));

  test('REL-CLI-08 a token accepted once is refused after its exp (no cached acceptance outlives exp)', { timeout: 30000 }, withLogs(async () => {
    const resource = `http://127.0.0.1:${gw.port}/mcp`;
    const short = await mintToken(key, { iss: ISSUER, aud: resource, expiresIn: 3 });
    const ask = async (id, c) => {
      c.send(Buffer.concat([headers(id, block(requestFields({ port: gw.port, token: short }))), data(id, BODY, true)]));
      await c.waitFor(() => c.streamOutcome(id) !== undefined);
      return c.streamOutcome(id).status;
    };
    const c = await connect();
    assert.equal(await ask(1, c), 200, c.describe());
    assert.equal(await ask(3, c), 200, 'a second use (a cache hit if there is a cache)');
    await settle(4500); // past exp (clock_skew 0)
    assert.equal(await ask(5, c), 401, c.describe());
    c.close();
  }));

  test('REL-JWKS-16 SIGTERM while the startup JWKS fetch is in flight: clean exit', { timeout: 30000 }, withLogs(async () => {
    jwks.state.mode = 'slow';
    try {
      const port = await freePort();
      const configPath = await writeConfig(tmp, {
        listeners: [{ address: `127.0.0.1:${port}` }],
        admin: { address: '' },
        providers: { test: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'] } },
        upstreams: { backend: { url: upstream.origin } },
        routes: [{ path_prefix: '/mcp', upstream: 'backend', resource: `http://127.0.0.1:${port}/mcp`, auth: { providers: ['test'] } }],
      }, 'slow-jwks.yaml');
      const fetches = jwks.count();
      const proc = await startProcess('gateway-slow-jwks', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
      await jwks.waitForRequest(fetches);
      await proc.stop(10000);
      assert.equal(proc.exitCode, 0, proc.describe());
      assert.doesNotMatch(proc.stderr, /(Address|Leak|UndefinedBehavior)Sanitizer/);
    } finally {
      jwks.state.mode = 'ok';
    }
  }));

  test('H2-24 Upgrade: h2c on the HTTP/1.1 side is not switched, auth still applies', { timeout: 30000 }, withLogs(async () => {
    const up = `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAccept: text/event-stream\r\n\r\n`;
    const r = await rawExchange(gw.port, up, { waitMs: 3000, untilFinal: true });
    assert.deepEqual(r.statuses, [401], r.text.slice(0, 300));
  }));

  test('H2-25 a client PUSH_PROMISE is a PROTOCOL_ERROR', { timeout: 30000 }, withLogs(async () => {
    const c = await connect();
    const p = Buffer.concat([Buffer.from([0, 0, 0, 2]), block(fields({ method: 'GET' }))]);
    c.send(Buffer.concat([headers(1, block(fields())), frame(T.PUSH_PROMISE, F.END_HEADERS, 1, p)]));
    assert.equal(await c.connectionError([E.PROTOCOL_ERROR], 10000), E.PROTOCOL_ERROR, c.describe());
    c.close();
  }));
});
