// Server-Sent Events pass through the gateway event by event: nothing waits
// for the end of the stream (checklist F 64, trap T14).
import assert from 'node:assert/strict';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { startEchoFixture } from './lib/echo_fixture.mjs';
import { MCP_POST_HEADERS, initializeBody } from './lib/net.mjs';
import { withLogs } from './lib/processes.mjs';

const ISSUER = 'https://issuer.streaming.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends a request and records when each SSE block (text ending in a blank
// line: an event or a comment) arrives. Resolves when the response ends.
function readSseBlocks(url, { method, headers, body, timeoutMs = 15000, onBlock = () => {} }) {
  return new Promise((resolve, reject) => {
    const blocks = [];
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          blocks.push({ text: buffer.slice(0, end), at: performance.now() });
          buffer = buffer.slice(end + 2);
          onBlock(blocks.length - 1);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, blocks, rest: buffer, endedAt: performance.now() }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no complete SSE response within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('SSE streaming through the gateway', () => {
  let fixture;
  let upstream;
  let gateway;
  let token;

  before(async () => {
    fixture = await startEchoFixture({ issuer: ISSUER, kid: 'sse-key' });
    ({ upstream, gateway, token } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  test('REL-UP-06: a POST answered with 5 events arrives event by event', { timeout: 20000 }, withLogs(async (t) => {
    // The upstream writes event i+1 only once the client has received event
    // i, so a gateway that held events back until the stream ended (or until
    // some buffer filled) would deadlock this exchange and fail it by
    // timeout, however fast or slow the machine is.
    const EVENTS = 5;
    const written = [];
    const received = Array.from({ length: EVENTS }, () => {
      let resolve;
      const promise = new Promise((r) => { resolve = r; });
      return { promise, resolve };
    });
    upstream.setHandler(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' });
      res.flushHeaders();
      for (let i = 0; i < EVENTS; i++) {
        if (i > 0) {
          const seen = await Promise.race([received[i - 1].promise.then(() => true), sleep(5000).then(() => false)]);
          if (!seen) break;  // the client never saw event i-1: stop; the assertions below fail
        }
        const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: i } });
        res.write(`id: ${i}\nevent: message\ndata: ${data}\n\n`);
        written.push(performance.now());
      }
      res.end();
    });
    const r = await readSseBlocks(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
      body: initializeBody(),
      onBlock: (i) => received[i]?.resolve(),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.equal(written.length, EVENTS, 'the upstream saw the client receive every event before writing the next');
    assert.equal(r.blocks.length, EVENTS, `received ${EVENTS} events: ${JSON.stringify(r.blocks)}`);
    assert.equal(r.rest, '', 'nothing left over after the last event');
    const latencies = r.blocks.map((b, i) => Math.round(b.at - written[i]));
    t.diagnostic(`per-event latency through the gateway (ms): ${latencies.join(', ')}`);
    for (let i = 0; i < EVENTS; i++) {
      assert.ok(r.blocks[i].text.startsWith(`id: ${i}\n`), `event ${i} in order, id kept: ${r.blocks[i].text}`);
    }
  }));

  test('a GET stream stays open ~3 s with comments flowing, then ends cleanly', { timeout: 20000 }, withLogs(async () => {
    const COMMENTS = 6;
    const GAP_MS = 500;
    const written = [];
    await fixture.openSession('sse-session');
    upstream.setHandler(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      for (let i = 0; i < COMMENTS; i++) {
        if (i > 0) await sleep(GAP_MS);
        res.write(`: keep-alive ${i}\n\n`);
        written.push(performance.now());
      }
      await sleep(GAP_MS);
      res.end('id: final\ndata: {"jsonrpc":"2.0","method":"notifications/done"}\n\n');
      written.push(performance.now());
    });
    const started = performance.now();
    const r = await readSseBlocks(gateway.url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': 'sse-session' },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.equal(r.blocks.length, COMMENTS + 1, `all comments and the final event: ${JSON.stringify(r.blocks)}`);
    for (let i = 0; i < COMMENTS; i++) {
      assert.equal(r.blocks[i].text, `: keep-alive ${i}`, 'comments are forwarded, not swallowed');
      const latency = r.blocks[i].at - written[i];
      assert.ok(latency < 1000, `comment ${i} arrived ${Math.round(latency)} ms after it was written`);
    }
    assert.equal(r.blocks[COMMENTS].text, 'id: final\ndata: {"jsonrpc":"2.0","method":"notifications/done"}');
    assert.ok(r.endedAt - started > 2800, `the stream stayed open ${Math.round(r.endedAt - started)} ms`);
  }));

  test('a client that disconnects mid-stream closes the upstream stream', { timeout: 15000 }, withLogs(async () => {
    let upstreamClosed;
    const closed = new Promise((resolve) => (upstreamClosed = resolve));
    let timer;
    upstream.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      timer = setInterval(() => res.write(': tick\n\n'), 200);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed(performance.now());
      });
    });
    let disconnectedAt;
    await new Promise((resolve, reject) => {
      const req = http.request(gateway.url, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
        agent: false,
      }, (res) => {
        res.once('data', () => {
          disconnectedAt = performance.now();
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (disconnectedAt ? undefined : reject(err)));
      req.setTimeout(5000, () => req.destroy(new Error('no SSE data within 5 s')));
      req.end();
    });
    const outcome = await Promise.race([closed, sleep(3000).then(() => 'still open')]);
    clearInterval(timer);
    assert.notEqual(outcome, 'still open', 'the upstream stream was still open 3 s after the client left');
    assert.ok(outcome - disconnectedAt < 3000);
  }));
});
