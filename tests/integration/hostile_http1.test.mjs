// Hostile HTTP/1.1 (H1-* in docs/security.md): raw bytes to a running
// gateway in front of a raw-TCP upstream that records exactly what it
// receives. Every rejected case carries a VALID token, so a rejection proves
// the framing check and not the authentication; each must answer the pinned
// status and forward nothing (NF: zero new upstream bytes).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { rawExchange, startRawUpstream } from './lib/raw_upstream.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.hostile-h1.example';
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('hostile HTTP/1.1 requests', () => {
  let tmp;
  let upstream;
  let gw;
  let key;
  let jwksFile;
  let token;
  let H; // "Host: ...\r\nAuthorization: Bearer <valid>\r\n"

  before(async () => {
    tmp = await makeTempDir('mag-h1-');
    upstream = await startRawUpstream('ok');
    key = await generateSigningKey('h1-key');
    jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    // The default body deadline (60 s): a short one here would race the
    // body-size limit of the H1-41 chunked test on a slow (sanitized,
    // loaded) build, where passing 4 MiB through the gateway can take
    // more than 5 s. H1-43 starts its own gateway with a 5 s deadline.
    gw = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile });
    token = await mintToken(key, { iss: ISSUER, aud: gw.resource });
    H = `Host: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${token}\r\n`;
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  // Sends `raw`, expects the first status in `statuses`, and no new upstream bytes.
  async function expectRejectedNF(raw, statuses, label) {
    const before = upstream.state.bytes.length;
    const res = await rawExchange(gw.port, raw, { waitMs: 4000, untilFinal: true });
    await settle();
    assert.ok(res.statuses.length > 0, `${label}: no response (${JSON.stringify(res.text.slice(0, 200))})`);
    assert.ok(statuses.includes(res.statuses[0]), `${label}: status ${res.statuses[0]}, want ${statuses}`);
    assert.equal(res.statuses.filter((s) => s === 200).length, 0, `${label}: a 200 in ${res.statuses}`);
    assert.equal(upstream.state.bytes.length - before, 0, `${label}: upstream received bytes (NF violated)`);
    assert.ok(gw.proc.running, `${label}: gateway died`);
    return res;
  }

  // Sends a request that must be forwarded; returns the response and the new upstream bytes.
  // Waits until the recording upstream has stopped receiving bytes (an
  // earlier test may have streamed megabytes that are still draining), so
  // what a test reads back starts with its own request.
  async function upstreamQuiet(maxMs = 5000) {
    const deadline = Date.now() + maxMs;
    let last = -1;
    while (Date.now() < deadline && upstream.state.bytes.length !== last) {
      last = upstream.state.bytes.length;
      await settle(200);
    }
  }

  async function expectForwarded(raw, label) {
    await upstreamQuiet();
    // New bytes per upstream connection: the request may go to a pooled
    // connection that is not the last one in the recording.
    const before = new Map(upstream.state.connections.map((u) => [u, u.chunks.length]));
    const beforeReqs = upstream.state.requestCount;
    const res = await rawExchange(gw.port, raw, { waitMs: 4000 });
    await settle();
    assert.deepEqual(res.statuses, [200], `${label}: ${res.text.slice(0, 300)}`);
    return {
      res,
      forwarded: Buffer.concat(upstream.state.connections.flatMap((u) => u.chunks.slice(before.get(u) ?? 0))).toString('latin1'),
      requests: upstream.state.requestCount - beforeReqs,
    };
  }

  const BODY = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  const post = (extra, body = BODY) => `POST /mcp HTTP/1.1\r\n${H}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n${extra}\r\n${body}`;

  // id, raw request, accepted statuses
  const rejected = () => [
    ['H1-01 CL then TE + smuggled GET', post(`Content-Length: 5\r\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\nGET /mcp/smuggled HTTP/1.1\r\nHost: a\r\n\r\n`), [400]],
    ['H1-02 TE then CL', post(`Transfer-Encoding: chunked\r\nContent-Length: 5\r\n`, `0\r\n\r\n`), [400]],
    ['H1-03 duplicate CL 0 / 39', post(`Content-Length: 0\r\nContent-Length: 39\r\n`, `GET /mcp/smuggled HTTP/1.1\r\nHost: a\r\n\r\n`), [400]],
    ['H1-25 CL 3,3', post(`Content-Length: 3,3\r\n`, 'abc'), [400]],
    ['H1-25 CL -1', post(`Content-Length: -1\r\n`, 'abc'), [400]],
    ['H1-23 CL +3', post(`Content-Length: +3\r\n`, 'abc'), [400]],
    ['H1-26 CL 99999999999999999999', post(`Content-Length: 99999999999999999999\r\n`, 'abc'), [400, 413]],
    ['H1-04 TE gzip, chunked', post(`Transfer-Encoding: gzip, chunked\r\n`, `3\r\nabc\r\n0\r\n\r\n`), [400, 501]],
    ['H1-06 TE xchunked', post(`Transfer-Encoding: xchunked\r\n`, `3\r\nabc\r\n0\r\n\r\n`), [400, 501]],
    ['H1-07 TE identity + TE chunked', post(`Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\n`), [400]],
    ['H1-08 space before colon', post(`Transfer-Encoding : chunked\r\nContent-Length: 3\r\n`, 'abc'), [400]],
    ['H1-09 obs-fold TE', post(`Transfer-Encoding:\r\n chunked\r\n`, `0\r\n\r\n`), [400]],
    ['H1-10 obs-fold other header', post(`Content-Length: ${BODY.length}\r\nX-A: first\r\n second\r\n`), [400]],
    ['H1-11 bare LF', `GET /mcp HTTP/1.1\nHost: 127.0.0.1:${gw.port}\nAuthorization: Bearer ${token}\n\n`, [400]],
    ['H1-12 bare CR in a value', post(`Content-Length: ${BODY.length}\r\nX-C: a\rb\r\n`), [400]],
    ['H1-13 NUL in a value', post(`Content-Length: ${BODY.length}\r\nX-User: admin\x00junk\r\n`), [400]],
    ['H1-14 NUL in the URI', `GET /mcp\x00x HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-15 header line without colon', post(`Content-Length: ${BODY.length}\r\nNoColonHere\r\n`), [400]],
    ['H1-16 empty header name', post(`Content-Length: ${BODY.length}\r\n: v\r\n`), [400]],
    ['H1-16 control character in a name', post(`Content-Length: ${BODY.length}\r\nX-\x01A: v\r\n`), [400]],
    ['H1-17 chunk size 0x3', post(`Transfer-Encoding: chunked\r\n`, `0x3\r\nabc\r\n0\r\n\r\n`), [400]],
    ['H1-18 chunk size +3', post(`Transfer-Encoding: chunked\r\n`, `+3\r\nabc\r\n0\r\n\r\n`), [400]],
    ['H1-18 chunk size " 3"', post(`Transfer-Encoding: chunked\r\n`, ` 3\r\nabc\r\n0\r\n\r\n`), [400]],
    ['H1-20 chunk size overflow', post(`Transfer-Encoding: chunked\r\n`, `10000000000000003\r\nabc\r\n0\r\n\r\n`), [400, 413]],
    ['H1-21 chunk data without CRLF', post(`Transfer-Encoding: chunked\r\n`, `3\r\nabcXX0\r\n\r\n`), [400]],
    ['H1-28 HTTP/1.10', `GET /mcp HTTP/1.10\r\n${H}\r\n`, [400, 505]],
    ['H1-28 HTTP/4294967297.1', `GET /mcp HTTP/4294967297.1\r\n${H}\r\n`, [400, 505]],
    ['H1-29 HTTP/2.0 request line', `GET /mcp HTTP/2.0\r\n${H}\r\n`, [400, 505]],
    ['H1-29 HTTP/0.9', `GET /mcp\r\n\r\n`, [400, 505]],
    ['H1-31 fragment', `GET /mcp#/../admin HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-32 dot segments', `GET /mcp/../admin HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-32 %2e%2e%2f', `GET /mcp/%2e%2e%2fadmin HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-32 %2f', `GET /mcp%2f..%2fadmin HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-32 /mcp/./x', `GET /mcp/./x HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-32 NUL escaped %00', `GET /mcp%00 HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-30 absolute-form target', `GET http://evil.example/mcp HTTP/1.1\r\n${H}\r\n`, [400]],
    ['JWT-TRN-09 //mcp', `GET //mcp HTTP/1.1\r\n${H}\r\n`, [400, 404]],
    ['JWT-TRN-09 /public/../mcp', `GET /public/../mcp HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-33 double space', `GET  /mcp HTTP/1.1\r\n${H}\r\n`, [400]],
    ['H1-34 no Host', `GET /mcp HTTP/1.1\r\nAuthorization: Bearer ${token}\r\n\r\n`, [400]],
    ['H1-35 two Host', `GET /mcp HTTP/1.1\r\n${H}Host: evil.example\r\n\r\n`, [400]],
    ['H1-38 unknown method FOO', `FOO /mcp HTTP/1.1\r\n${H}\r\n`, [400, 405, 501]],
    ['H1-38 lowercase method', `get /mcp HTTP/1.1\r\n${H}\r\n`, [400, 405, 501]],
    ['H1-39 URI over 8 KiB', `GET /mcp?${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, [414]],
    ['H1-39 64 KiB header value', `GET /mcp HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`, [431]],
    ['H1-39 2000 headers', `GET /mcp HTTP/1.1\r\n${H}${'X-H: 1\r\n'.repeat(2000)}\r\n`, [431]],
    ['H1-41 body over the limit (CL)', post(`Content-Length: ${64 << 20}\r\n`, 'x'.repeat(1024)), [413]],
  ];

  test('malformed framing, bytes and targets are refused and nothing is forwarded', { timeout: 180000 }, withLogs(async () => {
    for (const [label, raw, statuses] of rejected()) {
      await expectRejectedNF(raw, statuses, label);
    }
  }));

  test('H1-41 chunked body over the limit: 413, nothing complete reaches the upstream', { timeout: 30000 }, withLogs(async () => {
    const before = upstream.state.requestCount;
    const big = 'x'.repeat(1 << 20);
    const parts = [{ data: post('Transfer-Encoding: chunked\r\n', '') }];
    // 5 MiB (limit 4 MiB), then nothing more: the gateway has read everything
    // we sent when it refuses, so its answer is not lost to a TCP reset.
    for (let i = 0; i < 5; i++) parts.push({ data: `${big.length.toString(16)}\r\n${big}\r\n`, delayMs: 20 });
    // Resolves when the gateway closes; the wait is only a bound (this took
    // 6 s with ASan on a loaded 2-core machine).
    const res = await rawExchange(gw.port, parts, { waitMs: 20000 });
    await settle(300);
    assert.ok(res.statuses.includes(413) || res.statuses.includes(400), `statuses ${res.statuses}: ${res.text.slice(0, 200)}`);
    assert.equal(upstream.state.requestCount - before, 0, 'no complete request forwarded');
  }));

  test('H1-05/H1-24/H1-22/H1-50: accepted framing is forwarded once, normalised, trailers dropped', { timeout: 30000 }, withLogs(async () => {
    // TE "Chunked" (case) with a trailer that tries to inject a header and a second CL.
    const chunked = post('Transfer-Encoding: Chunked\r\n', `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\nX-Injected: yes\r\nContent-Length: 99\r\n\r\n`);
    const a = await expectForwarded(chunked, 'chunked');
    assert.equal(a.requests, 1, `one request upstream:\n${a.forwarded}`);
    assert.ok(a.forwarded.includes(BODY), 'body forwarded');
    assert.ok(!/x-injected/i.test(a.forwarded), `trailer not forwarded as a header:\n${a.forwarded}`);
    const head = a.forwarded.slice(0, a.forwarded.indexOf('\r\n\r\n'));
    const hasCl = /\r\ncontent-length:/i.test(head);
    const hasTe = /\r\ntransfer-encoding:/i.test(head);
    assert.ok(hasCl !== hasTe, `exactly one of CL / TE upstream:\n${head}`);
    assert.ok(!/\n(?<!\r\n)/.test(a.forwarded.replace(/\r\n/g, '')) && !/[^\r]\n/.test(head), 'no bare LF upstream');

    // CL with surrounding OWS: accepted, forwarded as a plain number.
    const b = await expectForwarded(post(`Content-Length:   ${BODY.length}  \r\n`), 'CL with OWS');
    const bhead = b.forwarded.slice(0, b.forwarded.indexOf('\r\n\r\n'));
    assert.match(bhead, new RegExp(`\\r\\ncontent-length: ${BODY.length}\\r\\n`, 'i'), bhead);
    assert.ok(!/authorization/i.test(bhead), 'Authorization is not forwarded');
  }));

  test('H1-55: client-sent forwarding headers are not trusted upstream', { timeout: 30000 }, withLogs(async () => {
    const { forwarded } = await expectForwarded(post(`Content-Length: ${BODY.length}\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n`), 'XFF');
    const head = forwarded.slice(0, forwarded.indexOf('\r\n\r\n'));
    assert.ok(!/^x-forwarded-for:\s*6\.6\.6\.6\s*$/im.test(head), `spoofed XFF forwarded as is:\n${head}`);
  }));

  test('H1-36: pipelined requests are each authenticated on their own', { timeout: 30000 }, withLogs(async () => {
    const before = upstream.state.requestCount;
    // Bodiless requests: a 401 on a request with an unread body may close the
    // connection (the gateway does not read bodies for unauthenticated clients).
    const get = (auth, close = '') =>
      `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n${auth}Accept: text/event-stream\r\n${close}\r\n`;
    const raw = get(`Authorization: Bearer ${token}\r\n`) + get('') + get(`Authorization: Bearer ${token}\r\n`, 'Connection: close\r\n');
    const res = await rawExchange(gw.port, raw, { waitMs: 6000 });
    await settle();
    assert.deepEqual(res.statuses, [200, 401, 200], res.text.slice(0, 500));
    assert.equal(upstream.state.requestCount - before, 2, 'only the two authenticated requests reach the upstream');
  }));

  test('H1-37: Expect: 100-continue with a bad token gets 401 and no 100; a good one gets 100 then 200', { timeout: 30000 }, withLogs(async () => {
    const before = upstream.state.bytes.length;
    const bad = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer not.a.token\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\nExpect: 100-continue\r\n\r\n`;
    const r1 = await rawExchange(gw.port, bad, { waitMs: 2000, endAfterMatch: /HTTP\/1\.1 [2-5]\d\d/ });
    assert.equal(r1.statuses[0], 401, r1.text.slice(0, 300));
    assert.ok(!r1.statuses.includes(100), 'no 100 Continue for a bad token');
    await settle();
    assert.equal(upstream.state.bytes.length - before, 0, 'NF');

    const good = post(`Content-Length: ${BODY.length}\r\nExpect: 100-continue\r\n`, '');
    const r2 = await rawExchange(gw.port, [{ data: good }, { data: BODY, delayMs: 300 }], { waitMs: 4000 });
    assert.deepEqual(r2.statuses, [100, 200], r2.text.slice(0, 300));
  }));

  test('H1-19/H1-27/H1-52/H1-53/H1-54: extensions, bodies on GET, upgrades, legacy hop-by-hop and obs-text', { timeout: 60000 }, withLogs(async () => {
    // H1-19: a chunk extension is ignored (pinned: 200, the extension not forwarded).
    const ext = await expectForwarded(post('Transfer-Encoding: chunked\r\n', `${BODY.length.toString(16)};x=1\r\n${BODY}\r\n0\r\n\r\n`), 'chunk ext');
    assert.ok(!ext.forwarded.includes(';x=1'), 'chunk extension not forwarded');
    assert.ok(ext.forwarded.includes(BODY));

    // H1-27: GET with a body, then a pipelined GET: both answered, body forwarded or dropped
    // consistently (the second request is never parsed out of the first one's body).
    const beforeReqs = upstream.state.requestCount;
    const g1 = `GET /mcp HTTP/1.1\r\n${H}Accept: text/event-stream\r\nContent-Length: 3\r\n\r\nabc`;
    const g2 = `GET /mcp HTTP/1.1\r\n${H}Accept: text/event-stream\r\nConnection: close\r\n\r\n`;
    const r27 = await rawExchange(gw.port, g1 + g2, { waitMs: 5000 });
    await settle();
    assert.deepEqual(r27.statuses, [200, 200], r27.text.slice(0, 300));
    assert.equal(upstream.state.requestCount - beforeReqs, 2, 'two requests upstream, no third from the body');

    // H1-52: Upgrade without a token → 401 and NF; with a token → never a blind tunnel.
    await expectRejectedNF(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, [401], 'H1-52 upgrade, no token');
    const before52 = upstream.state.bytes.length;
    const up = await rawExchange(gw.port, `GET /mcp HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`, { waitMs: 3000, untilFinal: true });
    assert.ok(!up.statuses.includes(101), `no 101 switch: ${up.statuses}`);
    const fwd52 = upstream.state.bytes.subarray(before52).toString('latin1');
    assert.ok(!/\r\nupgrade:/i.test(fwd52), `Upgrade not forwarded:\n${fwd52.slice(0, 400)}`);

    // H1-53: Proxy-Connection / Keep-Alive are hop-by-hop: not forwarded.
    const r53 = await expectForwarded(post(`Content-Length: ${BODY.length}\r\nProxy-Connection: keep-alive\r\nKeep-Alive: timeout=999\r\n`), 'H1-53');
    assert.ok(!/\r\n(proxy-connection|keep-alive):/i.test(r53.forwarded), r53.forwarded.slice(0, 400));

    // H1-54: obs-text (high-bit bytes) in a value: forwarded byte for byte, or 400.
    // New bytes per upstream connection: a pooled connection earlier in the
    // list may carry this request, so an offset into the concatenation is not enough.
    await upstreamQuiet();
    const before54 = new Map(upstream.state.connections.map((u) => [u, u.chunks.length]));
    const r54 = await rawExchange(gw.port, post(`Content-Length: ${BODY.length}\r\nX-Obs: caf\xe9\r\n`), { waitMs: 3000, untilFinal: true });
    await settle();
    const fwd54 = Buffer.concat(upstream.state.connections.flatMap((u) => u.chunks.slice(before54.get(u) ?? 0))).toString('latin1');
    if (r54.statuses[0] === 200) assert.ok(fwd54.includes('X-Obs: caf\xe9\r\n') || /x-obs: caf\xe9\r\n/i.test(fwd54), `verbatim:\n${fwd54.slice(0, 400)}`);
    else assert.equal(r54.statuses[0], 400);
  }));

  test('H1-42: slowloris is cut by the per-request header deadline, not reset by each byte', { timeout: 30000 }, withLogs(async () => {
    const head = `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nX-Slow: ${'a'.repeat(40)}`;
    const parts = [...head].map((c) => ({ data: c, delayMs: 500 }));
    const res = await rawExchange(gw.port, parts, { waitMs: 20000 });
    assert.ok(res.closed, 'connection closed by the gateway');
    // Header timeout is 10 s; a per-read timeout would have kept it open for the whole 40 s trickle.
    assert.ok(res.elapsedMs < 14000, `closed after ${res.elapsedMs} ms`);
    assert.ok(res.elapsedMs > 8000, `closed too early (${res.elapsedMs} ms)?`);
    assert.ok(res.statuses.length === 0 || res.statuses[0] === 408, `status ${res.statuses}`);
    assert.ok(gw.proc.running);
  }));
  // The access-log line (JSON on the gateway's stdout) of the request with this X-Request-Id.
  async function accessLogLine(requestId, timeoutMs = 5000, gateway = gw) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = gateway.proc.stdout.split('\n').find((l) => l.includes(`"request_id":"${requestId}"`));
      if (line) return JSON.parse(line);
      if (Date.now() > deadline) throw new Error(`no access-log line for ${requestId}:\n${gateway.proc.stdout.slice(-2000)}`);
      await settle(100);
    }
  }

  test('H1-43: a body trickled one byte per second is cut by request_body_timeout: 408, nothing complete forwarded, logged as 408', { timeout: 30000 }, withLogs(async () => {
    await upstreamQuiet();
    const slow = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer: ISSUER, jwksFile, listener: { request_body_timeout: 5 }, name: 'gateway-body-deadline.yaml' });
    const slowToken = await mintToken(key, { iss: ISSUER, aud: slow.resource });
    const beforeReqs = upstream.state.requestCount;
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${slow.port}\r\nAuthorization: Bearer ${slowToken}\r\nContent-Type: application/json\r\n` +
      'Connection: close\r\nContent-Length: 100\r\nX-Request-Id: h1-43-slow-body\r\n\r\n';
    // 15 s of trickle if nothing cuts it; this listener's deadline is 5 s.
    const parts = [{ data: head }, ...Array.from({ length: 15 }, () => ({ data: 'x', delayMs: 1000 }))];
    const res = await rawExchange(slow.port, parts, { waitMs: 20000 });
    assert.deepEqual(res.statuses, [408], res.text.slice(0, 300));
    assert.ok(res.closed, 'connection closed');
    assert.ok(res.elapsedMs < 12000, `cut after ${res.elapsedMs} ms`);
    assert.ok(res.elapsedMs > 4500, `cut before the deadline (${res.elapsedMs} ms)?`);
    await settle(300);
    assert.equal(upstream.state.requestCount - beforeReqs, 0, 'no complete request upstream');
    assert.equal((await accessLogLine('h1-43-slow-body', 5000, slow)).status, 408);
  }));

  test('H1-41/H1-44: a 413 for a body the client is still uploading reaches it (lingering close); codec refusals are logged with their status', { timeout: 60000 }, withLogs(async () => {
    // curl uploads 32 MiB without Expect: 100-continue; the gateway answers 413
    // at the head and must keep reading (and discarding) until curl has seen it.
    const file = join(tmp, 'big.json');
    await writeFile(file, Buffer.alloc(32 << 20, 0x20));
    for (let i = 0; i < 3; i++) {
      const { stdout } = await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect:',
        '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json',
        '--data-binary', `@${file}`, `http://127.0.0.1:${gw.port}/mcp`]).catch((e) => ({ stdout: `curl failed: ${e.message}` }));
      assert.equal(stdout.trim(), '413', `attempt ${i}`);
    }
    // Refused mid-body by the codec (bad chunk size) after the head reached the proxy: 400 in the log, not 499.
    const res = await rawExchange(gw.port, post('Transfer-Encoding: chunked\r\nX-Request-Id: h1-refused-400\r\n', '0x3\r\nabc\r\n0\r\n\r\n'), { waitMs: 4000, untilFinal: true });
    assert.equal(res.statuses[0], 400, res.text.slice(0, 200));
    assert.equal((await accessLogLine('h1-refused-400')).status, 400);
  }));
  test('H1-51: hop-by-hop abuse (Connection listing X-Forwarded-*, X-Request-Id) cannot strip what the gateway sets', { timeout: 30000 }, withLogs(async () => {
    const { forwarded } = await expectForwarded(post(`Content-Length: ${BODY.length}\r\nConnection: X-Forwarded-For, X-Forwarded-Proto, X-Request-Id\r\nX-Request-Id: h1-51-id\r\n`), 'H1-51');
    const head = forwarded.slice(0, forwarded.indexOf('\r\n\r\n') + 2);
    assert.match(head, /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/i, head);
    assert.match(head, /\r\nx-forwarded-proto: http\r\n/i, head);
    assert.match(head, /\r\nx-request-id: h1-51-id\r\n/i, head);
    assert.ok(!/\r\nconnection:[^\r]*x-forwarded/i.test(head), `the client's Connection list is not forwarded:\n${head}`);
  }));

  test('JWT-TRN-08: CONNECT (authority-form, no path) is refused without a crash', { timeout: 30000 }, withLogs(async () => {
    await expectRejectedNF(`CONNECT 127.0.0.1:${gw.port} HTTP/1.1\r\n${H}\r\n`, [400, 405, 501], 'CONNECT');
  }));

  test('REL-CLI-04: a client RST while a streamed response is being written: no crash, upstream closed', { timeout: 30000 }, withLogs(async () => {
    upstream.setMode('sse-forever');
    try {
      await upstreamQuiet();
      const seen = new Map(upstream.state.connections.map((u) => [u, u.requests]));
      const sock = net.connect(gw.port, '127.0.0.1');
      sock.on('error', () => {});
      let text = '';
      sock.on('data', (d) => (text += d.toString('latin1')));
      await new Promise((r) => sock.once('connect', r));
      sock.write(`GET /mcp HTTP/1.1\r\n${H}Accept: text/event-stream\r\n\r\n`);
      for (let i = 0; i < 100 && (text.match(/data:/g) ?? []).length < 3; i++) await settle(50);
      assert.ok((text.match(/data:/g) ?? []).length >= 3, `events flowing: ${text.slice(0, 300)}`);
      const conn = upstream.state.connections.find((u) => u.closedAt === undefined && u.requests > (seen.get(u) ?? 0));
      assert.ok(conn, 'the streaming upstream connection');
      sock.resetAndDestroy();
      for (let i = 0; i < 40 && conn.closedAt === undefined; i++) await settle(50);
      assert.ok(conn.closedAt !== undefined, 'upstream stream closed after the client RST');
      assert.ok(gw.proc.running, 'gateway alive');
    } finally {
      upstream.setMode('ok');
    }
  }));
  test('REL-UP-13: an upstream response head of 10 000 fields is a 502, the gateway stays up', { timeout: 30000 }, withLogs(async () => {
    upstream.setMode('huge-head');
    try {
      const res = await rawExchange(gw.port, `GET /mcp HTTP/1.1\r\n${H}Accept: text/event-stream\r\nConnection: close\r\n\r\n`, { waitMs: 8000, untilFinal: true });
      assert.equal(res.statuses[0], 502, res.text.slice(0, 300));
      assert.ok(!/X-H9999/i.test(res.text), 'no upstream field reached the client');
      assert.ok(gw.proc.running);
    } finally {
      upstream.setMode('ok');
    }
  }));
});
