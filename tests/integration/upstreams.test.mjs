// Several endpoints per upstream (docs/transport.md "Several
// endpoints"): two real mcp-add-server backends behind one upstream.
// - requests without a session alternate between them (round-robin);
// - an official SDK client's session always reaches the backend that created
//   it (counted in the backends' own request logs);
// - one backend killed: new sessions go to the other, the killed one's
//   session gets 404 (the client must re-initialize);
// - a per-route `timeouts: {idle_timeout: 2}` closes a quiet stream on that
//   route (HTTP/1.1 and h2c downstream; the upstream sees its socket close,
//   the gateway keeps serving: REL-UP-07) while another route on the
//   default keeps its stream open.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BACKEND_BIN, GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { freePort, h2OpenStream, httpRequest, initializeBody, MCP_POST_HEADERS } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';

// mcp-add-server at debug level logs one line per request it answers.
const REQUEST_LINE = /\[backend\] (GET|POST|DELETE) \/mcp -> (\d+)/g;

async function startLoggingBackend(name) {
  const proc = await startProcess(name, requireFile(BACKEND_BIN, 'mcp-add-server'), [
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    'debug',
  ]);
  return {
    proc,
    origin: `http://127.0.0.1:${proc.port}`, // the upstream URL: the gateway forwards /mcp as is
    // The requests this backend has answered so far, by its own log.
    requests: () => [...proc.stderr.matchAll(REQUEST_LINE)].map((m) => `${m[1]} ${m[2]}`),
  };
}

// Resolves with `value` after `ms`; the timer does not keep the test process alive.
function delay(ms, value) {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

async function waitFor(what, predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// An upstream that opens an event stream, sends one comment and then stays
// silent: only an idle timeout ends it. `streams` records each request's
// path and when the upstream saw its socket close (REL-UP-07).
async function startQuietUpstream() {
  const streams = [];
  const server = http.createServer((req, res) => {
    const stream = { url: req.url, socketClosedAt: undefined };
    streams.push(stream);
    req.socket.on('close', () => (stream.socketClosedAt = Date.now()));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': open\n\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    streams,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// Opens a GET stream; resolves once the head is in, with a promise that
// settles when the stream ends (complete: whether it ended cleanly).
function openStream(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      const ended = new Promise((done) => {
        res.on('data', () => {});
        res.on('close', () => done({ complete: res.complete, at: Date.now() }));
        res.on('error', () => {});
      });
      resolve({ status: res.statusCode, ended, openedAt: Date.now(), destroy: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function initialize(gatewayUrl) {
  const res = await httpRequest(gatewayUrl, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });
  return res;
}

describe('several endpoints per upstream', () => {
  let tmp;
  let a;
  let b;
  let quiet;
  let gatewayOrigin;
  let mcpUrl;

  before(async () => {
    tmp = await makeTempDir();
    a = await startLoggingBackend('mcp-add-server A');
    b = await startLoggingBackend('mcp-add-server B');
    quiet = await startQuietUpstream();
    const port = await freePort();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      upstreams: {
        pair: { endpoints: [a.origin, b.origin] },
        quiet: { url: quiet.url },
      },
      routes: [
        { path_prefix: '/mcp', upstream: 'pair', auth: 'none' },
        { path_prefix: '/short', upstream: 'quiet', auth: 'none', timeouts: { idle_timeout: 2 } },
        { path_prefix: '/long', upstream: 'quiet', auth: 'none' },
      ],
    });
    const gateway = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), [
      '--config',
      configPath,
    ]);
    gatewayOrigin = `http://127.0.0.1:${gateway.port}`;
    mcpUrl = `${gatewayOrigin}/mcp`;
  });

  after(async () => {
    await stopAll();
    if (quiet) await quiet.close();
    await removeTempDir(tmp);
  });

  test(
    'requests without a session alternate between the endpoints',
    withLogs(async () => {
      const served = [];
      for (let i = 0; i < 6; i++) {
        const before = [a.requests().length, b.requests().length];
        const res = await initialize(mcpUrl);
        assert.equal(res.status, 200, res.body);
        assert.match(res.headers['mcp-session-id'] ?? '', /^[0-9a-f]{32}$/);
        await waitFor('a backend to log the request', () => a.requests().length + b.requests().length > before[0] + before[1]);
        const which = a.requests().length > before[0] ? 'A' : 'B';
        assert.equal(a.requests().length + b.requests().length, before[0] + before[1] + 1);
        served.push(which);
      }
      // Strict alternation, whichever backend came first.
      for (let i = 1; i < served.length; i++) assert.notEqual(served[i], served[i - 1], served.join(','));
      assert.equal(served.filter((s) => s === 'A').length, 3);
    }),
  );

  let sessionBackend; // the backend that holds the SDK client's session
  let sessionId;

  test(
    'an SDK client session always reaches the backend that created it',
    withLogs(async () => {
      const before = { A: a.requests().length, B: b.requests().length };
      const client = new Client({ name: 'upstreams-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl));
      await client.connect(transport);
      sessionId = transport.sessionId;
      assert.match(sessionId ?? '', /^[0-9a-f]{32}$/);
      for (let i = 0; i < 8; i++) {
        const result = await client.callTool({ name: 'add', arguments: { a: i, b: 10 } });
        assert.equal(result.structuredContent?.result, i + 10, JSON.stringify(result));
      }
      // initialize + notifications/initialized + 8 calls (+ the SDK's GET
      // stream attempt, 405 in JSON mode), all on one backend.
      await waitFor('the backends to log the calls', () => {
        const delta = a.requests().length - before.A + (b.requests().length - before.B);
        return delta >= 10;
      });
      const deltaA = a.requests().length - before.A;
      const deltaB = b.requests().length - before.B;
      assert.ok(
        (deltaA >= 10 && deltaB === 0) || (deltaB >= 10 && deltaA === 0),
        `one backend saw the whole session: A +${deltaA}, B +${deltaB}`,
      );
      sessionBackend = deltaA > 0 ? 'A' : 'B';
      await transport.close(); // no DELETE: the session stays alive on its backend
    }),
  );

  test(
    'a killed backend: its session gets 404, new sessions go to the other one',
    withLogs(async () => {
      assert.ok(sessionId, 'the SDK test ran first');
      const [dead, alive] = sessionBackend === 'A' ? [a, b] : [b, a];
      await dead.proc.stop();

      // The lost session: 404 with a JSON-RPC error, as for a terminated session.
      const lost = await httpRequest(mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }),
      });
      assert.equal(lost.status, 404, lost.body);
      assert.equal(JSON.parse(lost.body).error?.code, -32001, lost.body);

      // New sessions, raw and with the SDK: all served by the survivor.
      const before = alive.requests().length;
      for (let i = 0; i < 4; i++) {
        const res = await initialize(mcpUrl);
        assert.equal(res.status, 200, res.body);
      }
      const client = new Client({ name: 'upstreams-test-2', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl));
      await client.connect(transport);
      const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      assert.equal(result.structuredContent?.result, 5);
      await client.close();
      await waitFor('the survivor to log the requests', () => alive.requests().length >= before + 7);
    }),
  );

  // REL-UP-07: the silent upstream's stream is cut (REL-UP-05 semantics: an
  // incomplete response, never a clean end), the upstream sees its socket
  // closed (not kept in the pool), and the gateway keeps serving.
  async function expectSilentStreamCut(open, path) {
    const streamsBefore = quiet.streams.length;
    const short = await open(`${gatewayOrigin}${path}`);
    assert.equal(short.status, 200);
    const outcome = await Promise.race([short.ended, delay(30000, 'still open')]);
    assert.notEqual(outcome, 'still open', `the ${path} stream (idle_timeout 2) was closed`);
    assert.equal(outcome.complete, false, 'cut, not a clean end: the client must not take it for a complete response');
    assert.ok(outcome.at - short.openedAt >= 1500, `closed after the idle time, not at once (${outcome.at - short.openedAt} ms)`);
    const upstreamSide = quiet.streams.slice(streamsBefore).find((s) => s.url === path);
    assert.ok(upstreamSide, `the upstream saw GET ${path}`);
    await waitFor('the upstream to see its socket closed', () => upstreamSide.socketClosedAt !== undefined, 10000);
    const res = await initialize(mcpUrl);
    assert.equal(res.status, 200, `the gateway keeps serving: ${res.body}`);
  }

  test(
    'REL-UP-07: a short per-route idle timeout closes a quiet stream (HTTP/1.1); the default route keeps its own',
    withLogs(async () => {
      const long = await openStream(`${gatewayOrigin}/long/events`);
      assert.equal(long.status, 200);
      await expectSilentStreamCut(openStream, '/short/events');
      // Well past the short timeout, the stream on the default (300 s) is open.
      const longOutcome = await Promise.race([long.ended, delay(4000, 'still open')]);
      assert.equal(longOutcome, 'still open');
      assert.equal(quiet.streams.find((s) => s.url === '/long/events').socketClosedAt, undefined);
      long.destroy();
    }),
  );

  test(
    'REL-UP-07: the same over h2c: the stream is reset, the upstream socket closed',
    withLogs(async () => {
      await expectSilentStreamCut((url) => h2OpenStream(new URL(url).origin, new URL(url).pathname), '/short/h2-events');
    }),
  );
});
