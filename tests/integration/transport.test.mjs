// Transport (docs/transport.md): TLS termination, HTTP/2 (h2 over
// TLS via ALPN, h2c with prior knowledge on the HTTP/1.1 listener), h2load
// bursts, bounded memory under a slow reader, graceful shutdown on SIGTERM.
// Clients are the real tools: curl and h2load (Debian nghttp2-client).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import nodeTls from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { parseH2load, runH2load } from './lib/load.mjs';
import { rssKiB } from './lib/metrics.mjs';
import { freePort, initializeBody } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';

const ADD_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 2, b: 3 } },
});

// A self-signed certificate for 127.0.0.1 / localhost, made with the openssl CLI.
async function makeCertificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = await runToCompletion('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  assert.equal(r.code, 0, `openssl req failed\n${r.stderr}`);
  return { cert, key };
}

// Starts a gateway with a cleartext and a TLS listener (same routes).
// The set-up most describes share: a temp dir with a self-signed
// certificate and an echo upstream; tearDown stops every process and removes
// the dir.
function echoTlsFixture() {
  const fx = {};
  fx.setUp = async (prefix) => {
    fx.tmp = await makeTempDir(prefix);
    fx.tls = await makeCertificate(fx.tmp);
    fx.echo = await startEchoUpstream();
    return fx;
  };
  fx.tearDown = async () => {
    await fx.echo?.close();
    await stopAll();
    await removeTempDir(fx.tmp);
  };
  return fx;
}

async function startTransportGateway({ dir, tls, upstreams, routes, drainTimeout = 10, name = 'gateway.yaml', workers }) {
  const plainPort = await freePort();
  const tlsPort = await freePort();
  const config = {
    listeners: [
      { address: `127.0.0.1:${plainPort}` },
      { address: `127.0.0.1:${tlsPort}`, tls: { certificate: tls.cert, private_key: tls.key } },
    ],
    admin: { address: '' },
    upstreams,
    routes,
    drain_timeout: drainTimeout,
  };
  if (workers !== undefined) config.workers = workers;
  const configPath = await writeConfig(dir, config, name);
  const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], {
    listeningLines: 2,
  });
  return { proc, plain: `http://127.0.0.1:${plainPort}`, secure: `https://127.0.0.1:${tlsPort}` };
}

// curl -i with the MCP POST headers; returns { httpVersion, status, headers, body }.
async function curlPost(url, body, args = [], headers = {}) {
  const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
  const r = await runToCompletion('curl', [
    '-sS', '-i', '--max-time', '10', ...args,
    ...Object.entries(h).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    '--data-binary', body, url,
  ]);
  assert.equal(r.code, 0, `curl ${args.join(' ')} ${url} failed (${r.code})\n${r.stderr}`);
  const split = r.stdout.indexOf('\r\n\r\n');
  const headLines = r.stdout.slice(0, split).split('\r\n');
  const statusLine = /^HTTP\/([\d.]+) (\d+)/.exec(headLines[0]);
  assert.ok(statusLine, `curl ${args.join(' ')} ${url}: no HTTP status line in ${JSON.stringify(r.stdout)}\n${r.stderr}`);
  const [, httpVersion, status] = statusLine;
  const parsed = {};
  for (const line of headLines.slice(1)) {
    const i = line.indexOf(':');
    parsed[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { httpVersion, status: Number(status), headers: parsed, body: r.stdout.slice(split + 4) };
}

// initialize + tools/call add(2, 3) over one protocol; returns the HTTP version seen.
async function callAdd(url, curlArgs) {
  const init = await curlPost(url, initializeBody(), curlArgs);
  assert.equal(init.status, 200, `initialize: ${init.status} ${init.body}`);
  const session = init.headers['mcp-session-id'];
  assert.ok(session, 'the backend issued an Mcp-Session-Id');
  const call = await curlPost(url, ADD_CALL, curlArgs, {
    'mcp-session-id': session,
    'mcp-protocol-version': '2025-06-18',
  });
  assert.equal(call.status, 200, `tools/call: ${call.status} ${call.body}`);
  const result = JSON.parse(call.body).result;
  assert.equal(result.content[0].text, '5', `add(2,3) through the gateway: ${call.body}`);
  return { httpVersion: call.httpVersion, session };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// HPACK integer with an N-bit prefix (RFC 7541 §5.1).
function hpackInt(value, prefixBits, firstByteFlags = 0) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

// "Literal header field without indexing, new name", no Huffman.
function hpackLiteral(name, value) {
  return Buffer.from([0x00, ...hpackInt(name.length, 7), ...Buffer.from(name), ...hpackInt(value.length, 7), ...Buffer.from(value)]);
}

function h2Frame(type, flags, streamId, payload) {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

// GET /echo on stream 1 with `fields` extra 16 KiB headers, sent as HEADERS +
// CONTINUATION frames; resolves with the server's first answer on stream 1:
// { type: 'headers' } or { type: 'rst', code } (or a GOAWAY / close).
function rawH2Request(port, fields) {
  const block = Buffer.concat([
    Buffer.from([0x82, 0x86]), // :method GET, :scheme http (static table)
    Buffer.from([0x04, ...hpackInt(5, 7)]), Buffer.from('/echo'), // :path (indexed name 4)
    Buffer.from([0x01, ...hpackInt(9, 7)]), Buffer.from('127.0.0.1'), // :authority (indexed name 1)
    ...Array.from({ length: fields }, (_, i) => hpackLiteral(`x-filler-${i}`, 'a'.repeat(16 * 1024))),
  ]);
  const frames = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(4, 0, 0, Buffer.alloc(0))];
  const chunks = [];
  for (let off = 0; off < block.length; off += 16384) chunks.push(block.subarray(off, off + 16384));
  chunks.forEach((c, i) => {
    const last = i === chunks.length - 1;
    frames.push(h2Frame(i === 0 ? 1 : 9, (i === 0 ? 0x1 : 0) | (last ? 0x4 : 0), 1, c));
  });
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat(frames)));
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish({ type: 'timeout' }), 5000);
    const finish = (r) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        const type = buf[3];
        const flags = buf[4];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === 4 && (flags & 1) === 0) socket.write(h2Frame(4, 1, 0, Buffer.alloc(0)));
        if (stream === 1 && type === 1) return finish({ type: 'headers' });
        if (stream === 1 && type === 3) return finish({ type: 'rst', code: payload.readUInt32BE(0) });
        if (type === 7) return finish({ type: 'goaway', code: payload.readUInt32BE(4) });
      }
    });
    socket.on('error', reject);
    socket.on('close', () => finish({ type: 'closed' }));
  });
}

describe('transport: TLS + HTTP/2 + HTTP/1.1 on one listener pair', () => {
  const fx = echoTlsFixture();
  let tmp;
  let tls;
  let backend;
  let echo;
  let gw;
  before(async () => {
    ({ tmp, tls, echo } = await fx.setUp('mag-transport-'));
    backend = await startBackend();
    gw = await startTransportGateway({
      dir: tmp,
      tls,
      upstreams: { backend: { url: backend.origin }, echo: { url: echo.origin } },
      routes: [
        { path_prefix: '/mcp', upstream: 'backend', auth: 'none' },
        { path_prefix: '/echo', upstream: 'echo', auth: 'none' },
      ],
    });
  });
  after(() => fx.tearDown());

  test('curl: add over h2c (prior knowledge), h2 + TLS (ALPN), HTTP/1.1 + TLS and HTTP/1.1', withLogs(async () => {
    const cases = [
      [`${gw.plain}/mcp`, ['--http2-prior-knowledge'], '2'],
      [`${gw.secure}/mcp`, ['--http2', '--cacert', tls.cert], '2'],
      [`${gw.secure}/mcp`, ['--http1.1', '--cacert', tls.cert], '1.1'],
      [`${gw.plain}/mcp`, ['--http1.1'], '1.1'],
    ];
    for (const [url, args, version] of cases) {
      const { httpVersion } = await callAdd(url, args);
      assert.equal(httpVersion, version, `${url} ${args.join(' ')} spoke HTTP/${httpVersion}`);
    }
  }));

  test('TLS: X-Forwarded-Proto is https over TLS and http over cleartext', withLogs(async () => {
    const overTls = await curlPost(`${gw.secure}/echo`, '{}', ['--cacert', tls.cert]);
    assert.equal(overTls.status, 200);
    assert.equal(echo.last().headers['x-forwarded-proto'], 'https');
    const plain = await curlPost(`${gw.plain}/echo`, '{}', ['--http2-prior-knowledge']);
    assert.equal(plain.status, 200);
    assert.equal(echo.last().headers['x-forwarded-proto'], 'http');
  }));

  test('TLS: TLS 1.1 is refused; TLS 1.2 is accepted', withLogs(async () => {
    const old = await runToCompletion('curl', ['-sS', '-o', '/dev/null', '--tlsv1.1', '--tls-max', '1.1', '--cacert', tls.cert, `${gw.secure}/echo`]);
    assert.notEqual(old.code, 0, 'a TLS 1.1 handshake must fail');
    const v12 = await runToCompletion('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--tlsv1.2', '--tls-max', '1.2', '--cacert', tls.cert, `${gw.secure}/echo`]);
    assert.equal(v12.code, 0, v12.stderr);
    assert.equal(v12.stdout, '200');
  }));

  test('HTTP/2: the server advertises MAX_CONCURRENT_STREAMS 100 and a header-list limit', withLogs(async () => {
    const client = http2.connect(gw.plain);
    try {
      const settings = await new Promise((resolve, reject) => {
        client.once('remoteSettings', resolve);
        client.once('error', reject);
      });
      assert.equal(settings.maxConcurrentStreams, 100);
      assert.equal(settings.maxHeaderListSize, 65536);
      assert.equal(settings.enablePush, false);
    } finally {
      client.close();
    }
  }));

  test('HTTP/2: a header list above 64 KiB is reset before it reaches the upstream', withLogs(async () => {
    // Raw frames: node's own client would refuse locally to send a list
    // above the server's advertised SETTINGS_MAX_HEADER_LIST_SIZE.
    const { port } = new URL(gw.plain);
    const control = await rawH2Request(Number(port), 3); // 48 KiB: forwarded
    assert.equal(control.type, 'headers', `48 KiB header list: ${JSON.stringify(control)}`);
    const seenBefore = echo.requests.length;
    const big = await rawH2Request(Number(port), 5); // 80 KiB, each field below nghttp2's 64 KiB
    assert.deepEqual(big, { type: 'rst', code: 2 }, `80 KiB header list: ${JSON.stringify(big)}`);
    for (let i = 0; i < 20 && !/request header list above/.test(gw.proc.stderr); i++) await sleep(50);
    assert.match(gw.proc.stderr, /request header list above 65536 bytes; resetting the stream/);
    assert.equal(echo.requests.length, seenBefore, 'the oversized request never reached the upstream');
  }));

  test('HTTP/2: rapid reset (HEADERS + RST_STREAM in a loop) ends in GOAWAY; the gateway keeps serving', withLogs(async (t) => {
    const client = http2.connect(gw.plain);
    client.on('error', () => {});
    let goaway = null;
    client.on('goaway', (code) => (goaway = code));
    const seenBefore = echo.requests.length;
    let sent = 0;
    for (let i = 0; i < 3000 && goaway === null && !client.destroyed; i++) {
      try {
        const req = client.request({ ':method': 'GET', ':path': `/echo/reset/${i}` });
        req.on('error', () => {});
        req.close(http2.constants.NGHTTP2_CANCEL);
        sent++;
      } catch {
        break; // the session is going away
      }
      if (i % 100 === 99) await sleep(1); // let frames flow both ways
    }
    for (let i = 0; i < 40 && goaway === null && !client.destroyed; i++) await sleep(50);
    client.destroy();
    await sleep(300);
    const forwarded = echo.requests.length - seenBefore;
    t.diagnostic(`rapid reset: ${sent} streams opened and cancelled; GOAWAY code ${goaway}; upstream saw ${forwarded}`);
    assert.notEqual(goaway, null, 'nghttp2 rate limit: the server sent GOAWAY');
    assert.ok(forwarded <= 1100, `upstream work is bounded by the reset budget (1000 burst): saw ${forwarded} of ${sent}`);
    const { httpVersion } = await callAdd(`${gw.plain}/mcp`, ['--http2-prior-knowledge']);
    assert.equal(httpVersion, '2', 'the gateway still serves new connections');
  }));

  test('h2load: a short burst over h2c and h2 + TLS with zero errors', withLogs(async (t) => {
    const { session } = await callAdd(`${gw.plain}/mcp`, ['--http2-prior-knowledge']);
    const bodyFile = join(tmp, 'add.json');
    await (await import('node:fs/promises')).writeFile(bodyFile, ADD_CALL);
    const headers = [
      '-H', 'content-type: application/json',
      '-H', 'accept: application/json, text/event-stream',
      '-H', `mcp-session-id: ${session}`,
      '-H', 'mcp-protocol-version: 2025-06-18',
    ];
    for (const [url, n] of [[`${gw.plain}/mcp`, 2000], [`${gw.secure}/mcp`, 1000]]) {
      const r = await runH2load(['-n', String(n), '-c', '8', '-m', '10', '-d', bodyFile, ...headers, url]);
      assert.equal(r.code, 0, `h2load exit code\n${r.stdout}\n${r.stderr}`);
      const s = parseH2load(r.stdout);
      const summary = r.stdout.split('\n').filter((l) => /^(finished in|requests:|status codes:)/.test(l)).join(' | ');
      t.diagnostic(`h2load ${url}: ${summary}`);
      assert.deepEqual(
        { done: s.done, succeeded: s.succeeded, failed: s.failed, errored: s.errored, timeout: s.timeout },
        { done: n, succeeded: n, failed: 0, errored: 0, timeout: 0 },
        summary,
      );
      assert.match(r.stdout, new RegExp(`status codes: ${n} 2xx`));
    }
  }));
});

// An SSE upstream that writes as fast as its socket lets it; counts the bytes.
function fastSseHandler(stats) {
  const chunk = `data: ${'x'.repeat(16 * 1024 - 8)}\n\n`;
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    const pump = () => {
      while (!res.destroyed) {
        stats.written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    res.on('close', () => (stats.closed = true));
    pump();
  };
}

describe('transport: flow control with a slow reader', () => {
  const fx = echoTlsFixture();
  let tmp;
  let tls;
  let echo;
  let gw;
  before(async () => {
    ({ tmp, tls, echo } = await fx.setUp('mag-transport-slow-'));
    gw = await startTransportGateway({
      dir: tmp,
      tls,
      upstreams: { fast: { url: echo.origin } },
      routes: [{ path_prefix: '/events', upstream: 'fast', auth: 'none' }],
    });
  });
  after(() => fx.tearDown());

  // The reader takes 1 byte per second; without backpressure the upstream
  // would push gigabytes through loopback in these seconds.
  const SECONDS = 6;
  const BOUND_RSS_GROWTH_KIB = 48 * 1024;
  const BOUND_UPSTREAM_BYTES = 48 << 20;

  test('HTTP/1.1: RSS and upstream bytes stay bounded', withLogs(async (t) => {
    const stats = { written: 0, closed: false };
    echo.setHandler(fastSseHandler(stats));
    const rssBefore = await rssKiB(gw.proc.child.pid);
    const { port } = new URL(gw.plain);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.pause();
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    let got = 0;
    for (let i = 0; i < SECONDS; i++) {
      await sleep(1000);
      if (socket.read(1)) got += 1;
    }
    const rssAfter = await rssKiB(gw.proc.child.pid);
    socket.destroy();
    t.diagnostic(`HTTP/1.1 slow reader: read ${got} B in ${SECONDS}s; upstream wrote ${(stats.written / 1048576).toFixed(1)} MiB; gateway RSS ${rssBefore} KiB -> ${rssAfter} KiB`);
    assert.ok(got > 0, 'the reader received bytes');
    assert.ok(stats.written < BOUND_UPSTREAM_BYTES, `upstream wrote ${stats.written} bytes: no backpressure`);
    assert.ok(rssAfter - rssBefore < BOUND_RSS_GROWTH_KIB, `RSS grew by ${rssAfter - rssBefore} KiB`);
    await sleep(300);
    assert.ok(stats.closed, 'closing the client closed the upstream request');
  }));

  test('HTTP/2 (h2c): RSS and upstream bytes stay bounded', withLogs(async (t) => {
    const stats = { written: 0, closed: false };
    echo.setHandler(fastSseHandler(stats));
    const rssBefore = await rssKiB(gw.proc.child.pid);
    const client = http2.connect(gw.plain);
    const req = client.request({ ':method': 'GET', ':path': '/events', accept: 'text/event-stream' });
    req.pause();
    const status = await new Promise((resolve, reject) => {
      req.once('response', (h) => resolve(h[':status']));
      req.once('error', reject);
    });
    assert.equal(status, 200);
    let got = 0;
    for (let i = 0; i < SECONDS; i++) {
      await sleep(1000);
      const b = req.read(1);
      if (b) got += b.length;
    }
    const rssAfter = await rssKiB(gw.proc.child.pid);
    req.close(http2.constants.NGHTTP2_CANCEL);
    client.close();
    t.diagnostic(`HTTP/2 slow reader: read ${got} B in ${SECONDS}s; upstream wrote ${(stats.written / 1048576).toFixed(1)} MiB; gateway RSS ${rssBefore} KiB -> ${rssAfter} KiB`);
    assert.ok(got > 0, 'the reader received bytes');
    assert.ok(stats.written < BOUND_UPSTREAM_BYTES, `upstream wrote ${stats.written} bytes: no backpressure`);
    assert.ok(rssAfter - rssBefore < BOUND_RSS_GROWTH_KIB, `RSS grew by ${rssAfter - rssBefore} KiB`);
    await sleep(300);
    assert.ok(stats.closed, 'RST_STREAM from the client closed the upstream request');
  }));
});

describe('transport: graceful shutdown on SIGTERM', () => {
  const fx = echoTlsFixture();
  let tmp;
  let tls;
  let echo;
  after(() => fx.tearDown());

  test('in-flight requests complete, SSE streams close at the drain timeout, exit 0', withLogs(async (t) => {
    ({ tmp, tls, echo } = await fx.setUp('mag-transport-drain-'));
    const DRAIN_SECONDS = 2;
    echo.setHandler((req, res) => {
      if (req.url.startsWith('/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write(': keep-alive\n\n'), 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      // A slow request: answered 700 ms after it arrived.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, url: req.url }));
      }, 700);
    });
    const gw = await startTransportGateway({
      dir: tmp,
      tls,
      upstreams: { up: { url: echo.origin } },
      routes: [{ path_prefix: '/', upstream: 'up', auth: 'none' }],
      drainTimeout: DRAIN_SECONDS,
    });

    // A long SSE stream over h2c.
    const client = http2.connect(gw.plain);
    const sse = client.request({ ':method': 'GET', ':path': '/events', accept: 'text/event-stream' });
    let sseBytes = 0;
    sse.on('data', (d) => (sseBytes += d.length));
    const sseEnded = new Promise((resolve) => sse.on('close', () => resolve(Date.now())));
    client.on('error', () => {});
    sse.on('error', () => {});

    // A burst of slow requests over HTTP/1.1, HTTP/2 and TLS, all in flight.
    const burst = [];
    for (let i = 0; i < 10; i++) {
      const args = i % 3 === 0 ? ['--http2-prior-knowledge'] : i % 3 === 1 ? [] : ['--cacert', tls.cert];
      const base = i % 3 === 2 ? gw.secure : gw.plain;
      burst.push(curlPost(`${base}/slow/${i}`, '{}', args));
    }
    await echo.waitForRequests(11, 5000); // the SSE GET + 10 slow POSTs reached the upstream
    const signalled = Date.now();
    gw.proc.child.kill('SIGTERM');

    const results = await Promise.all(burst);
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200, `in-flight request ${i}: ${r.status} ${r.body}`);
      assert.equal(JSON.parse(r.body).url, `/slow/${i}`);
    }
    // No new connections once draining.
    const refused = await runToCompletion('curl', ['-sS', '-o', '/dev/null', '--max-time', '2', `${gw.plain}/slow/late`]);
    assert.notEqual(refused.code, 0, 'a new connection after SIGTERM is not served');

    await gw.proc.exited;
    const exitedAfter = Date.now() - signalled;
    const sseClosedAfter = (await sseEnded) - signalled;
    t.diagnostic(`exit code ${gw.proc.exitCode} after ${exitedAfter} ms; SSE closed after ${sseClosedAfter} ms (${sseBytes} B received)`);
    assert.equal(gw.proc.exitCode, 0);
    assert.ok(sseBytes > 0, 'the SSE stream was live');
    assert.ok(sseClosedAfter >= DRAIN_SECONDS * 1000 - 200, `the SSE stream was kept until the drain timeout (${sseClosedAfter} ms)`);
    assert.ok(exitedAfter < DRAIN_SECONDS * 1000 + 1500, `exited within the drain timeout (${exitedAfter} ms)`);
    client.destroy();
  }));
});

// SHA-256 fingerprint of the certificate a TLS listener presents.
function servedFingerprint(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = nodeTls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

async function waitForLog(proc, re, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(proc.stderr)) {
    if (Date.now() > deadline) throw new Error(`no ${re} in the gateway log`);
    await sleep(50);
  }
}

describe('transport: TLS certificate rotation on SIGHUP', () => {
  let tmp;
  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  test('a new certificate is served after SIGHUP; a bad one is refused and the old one kept', withLogs(async () => {
    tmp = await makeTempDir('mag-transport-rotate-');
    const first = await makeCertificate(tmp);
    const echo = await startEchoUpstream();
    try {
      const gw = await startTransportGateway({
        dir: tmp,
        tls: first,
        upstreams: { up: { url: echo.origin } },
        routes: [{ path_prefix: '/', upstream: 'up', auth: 'none' }],
      });
      const before = await servedFingerprint(gw.secure);
      const { mkdir, copyFile, writeFile } = await import('node:fs/promises');
      await mkdir(join(tmp, 'next'));
      const second = await makeCertificate(join(tmp, 'next'));
      await copyFile(second.cert, first.cert);
      await copyFile(second.key, first.key);
      gw.proc.child.kill('SIGHUP');
      await waitForLog(gw.proc, /configuration reloaded/);
      const rotated = await servedFingerprint(gw.secure);
      assert.notEqual(rotated, before, 'the listener serves the new certificate');
      // A key that does not parse: the reload is refused, the certificate stays.
      await writeFile(first.key, 'not a key');
      gw.proc.child.kill('SIGHUP');
      await waitForLog(gw.proc, /configuration refused/);
      assert.equal(await servedFingerprint(gw.secure), rotated);
    } finally {
      await echo.close();
    }
  }));
});

describe('transport: per-upstream limits', () => {
  const fx = echoTlsFixture();
  let tmp;
  let tls;
  let echo;
  after(() => fx.tearDown());

  test('max_connections caps concurrent upstream requests (503 beyond); response_header_timeout answers 504', withLogs(async () => {
    ({ tmp, tls, echo } = await fx.setUp('mag-transport-limits-'));
    echo.setHandler((req, res) => {
      const delay = req.url.startsWith('/slow') ? 2500 : 600;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, delay);
    });
    const gw = await startTransportGateway({
      dir: tmp,
      tls,
      upstreams: {
        one: { url: echo.origin, max_connections: 1 },
        quick: { url: echo.origin, response_header_timeout: 1 },
      },
      routes: [
        { path_prefix: '/one', upstream: 'one', auth: 'none' },
        { path_prefix: '/slow', upstream: 'quick', auth: 'none' },
      ],
      // max_connections bounds each worker's pool (docs/transport.md
      // "Workers"): one worker makes "the second request is refused" certain.
      workers: 1,
    });
    // Two concurrent requests to an upstream limited to one connection.
    const [a, b] = await Promise.all([
      curlPost(`${gw.plain}/one/a`, '{}', ['--http2-prior-knowledge']),
      (async () => {
        await echo.waitForRequests(1, 3000);
        return curlPost(`${gw.plain}/one/b`, '{}', ['--http2-prior-knowledge']);
      })(),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 503, `second concurrent request: ${b.status} ${b.body}`);
    const after = await curlPost(`${gw.plain}/one/c`, '{}', []);
    assert.equal(after.status, 200, 'the connection is free again');
    // The upstream answers after 2.5 s; the limit is 1 s.
    const started = Date.now();
    const slow = await curlPost(`${gw.plain}/slow/x`, '{}', []);
    assert.equal(slow.status, 504, `${slow.status} ${slow.body}`);
    assert.ok(Date.now() - started < 2400, 'answered at the response-header timeout, not after the upstream');
  }));
});

// Transparency (the MCP conformance suite against server-everything directly,
// through a public route and through a token-protected route) is in
// conformance.test.mjs.

// MAG_LONG_TESTS=1: a quiet SSE stream (one keep-alive comment every 30 s)
// stays open through the gateway for 10 minutes, over HTTP/1.1 and h2c.
describe('transport: a quiet SSE stream survives 10 minutes (MAG_LONG_TESTS=1)', { skip: process.env.MAG_LONG_TESTS !== '1' }, () => {
  const fx = echoTlsFixture();
  let tmp;
  let tls;
  let echo;
  after(() => fx.tearDown());

  test('10 minutes with keep-alive comments only', { timeout: 700000 }, withLogs(async (t) => {
    ({ tmp, tls, echo } = await fx.setUp('mag-transport-long-'));
    echo.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write(': keep-alive\n\n'), 30000);
      res.on('close', () => clearInterval(timer));
    });
    const gw = await startTransportGateway({
      dir: tmp,
      tls,
      upstreams: { up: { url: echo.origin } },
      routes: [{ path_prefix: '/', upstream: 'up', auth: 'none' }],
    });
    const client = http2.connect(gw.plain);
    const h2 = client.request({ ':method': 'GET', ':path': '/events', accept: 'text/event-stream' });
    let h2Closed = false;
    h2.on('close', () => (h2Closed = true));
    h2.resume();
    const { port } = new URL(gw.plain);
    const socket = net.connect(Number(port), '127.0.0.1');
    let h1Closed = false;
    socket.on('close', () => (h1Closed = true));
    socket.on('data', () => {});
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    const start = Date.now();
    while (Date.now() - start < 600000) {
      await sleep(5000);
      assert.equal(h2Closed, false, `h2 stream closed after ${Date.now() - start} ms`);
      assert.equal(h1Closed, false, `HTTP/1.1 stream closed after ${Date.now() - start} ms`);
    }
    t.diagnostic('both SSE streams open after 10 minutes');
    socket.destroy();
    client.destroy();
  }));
});
