// Worker threads (`workers: 2`) and key carry-over on reload,
// against real processes: mcp-add-server behind the gateway, a
// JWKS served over http (so a refetch would be visible), real SDK clients
// and plain node:http requests, one connection per request.
//
// - many concurrent connections are all served (add(2,3) = 5), and the
//   per-worker request counter proves that both workers served some;
// - an MCP session created on one connection continues on others (the
//   session binding table is shared by the workers);
// - SIGHUP changes the decision on every worker (both workers answer 403
//   after a scope is added to the route), while the unchanged provider is
//   carried over: /jwks_status keeps its last fetch time, the JWKS server
//   sees no request and /ready stays 200 throughout; a reload that does
//   change the provider does refetch;
// - SIGTERM: requests in flight on both workers finish, exit 0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBackend } from './lib/backend.mjs';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken } from './lib/tokens.mjs';

const ISSUER = 'http://127.0.0.1/workers-issuer';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Prometheus text → Map("name{labels}" → number).
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('workers: 2', () => {
  let tmp;
  let backend;
  let echo;
  let jwks;
  let key;
  let gateway;
  let port;
  let adminPort;
  let config;
  let configPath;
  let resource;

  const url = () => `http://127.0.0.1:${port}/mcp`;
  const admin = (path) => httpRequest(`http://127.0.0.1:${adminPort}${path}`);
  const perWorker = async () => {
    const m = samples((await admin('/stats/prometheus')).body);
    return [0, 1].map((w) => m.get(`mag_worker_requests_total{worker="${w}"}`) ?? 0);
  };
  const reload = async () => {
    const before = (gateway.stderr.match(/configuration reloaded/g) ?? []).length;
    configPath = await writeConfig(tmp, config);
    gateway.child.kill('SIGHUP');
    await waitFor(
      () => (gateway.stderr.match(/configuration reloaded/g) ?? []).length > before,
      'the reload to finish',
    );
  };

  // initialize → notifications/initialized → tools/call add(2,3), each on a
  // new connection (httpRequest uses no agent), so the three requests of one
  // session are spread over the workers by the kernel.
  async function rawAdd(token, id) {
    const headers = { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` };
    const init = await httpRequest(url(), { method: 'POST', headers, body: initializeBody(id) });
    assert.equal(init.status, 200, `initialize: ${init.status} ${init.body}`);
    const session = init.headers['mcp-session-id'];
    assert.ok(session, 'the backend created a session');
    const withSession = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const notified = await httpRequest(url(), {
      method: 'POST',
      headers: withSession,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    assert.equal(notified.status, 202, `notifications/initialized: ${notified.status} ${notified.body}`);
    const call = await httpRequest(url(), {
      method: 'POST',
      headers: withSession,
      body: JSON.stringify({ jsonrpc: '2.0', id: id + 1, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } } }),
    });
    assert.equal(call.status, 200, `tools/call: ${call.status} ${call.body}`);
    const body = call.headers['content-type']?.startsWith('text/event-stream')
      ? JSON.parse(call.body.split('\n').find((l) => l.startsWith('data: ')).slice(6))
      : JSON.parse(call.body);
    assert.equal(body.result?.structuredContent?.result, 5, call.body);
  }

  async function sdkAdd(token) {
    const client = new Client({ name: 'workers-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url()), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    try {
      await client.connect(transport);
      const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
    } finally {
      await client.close();
    }
  }

  before(async () => {
    tmp = await makeTempDir('mag-workers-');
    backend = await startBackend();
    echo = await startEchoUpstream();
    key = await generateSigningKey('workers-key');
    jwks = await startJwksServer();
    jwks.setKeys([key]);
    port = await freePort();
    adminPort = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    config = {
      workers: 2,
      drain_timeout: 10,
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      access_log: 'off',
      providers: {
        test: { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['RS256'] },
      },
      upstreams: { backend: { url: backend.origin }, slow: { url: echo.origin } },
      routes: [
        { path_prefix: '/mcp', upstream: 'backend', resource, auth: { providers: ['test'], scopes: ['mcp:access'] } },
        { path_prefix: '/slow', upstream: 'slow', auth: 'none' },
      ],
    };
    configPath = await writeConfig(tmp, config);
    gateway = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    await waitFor(async () => (await admin('/ready').catch(() => ({ status: 0 }))).status === 200, 'the gateway to be ready');
    assert.match(gateway.stderr, /2 worker thread\(s\)/);
  });
  after(async () => {
    await stopAll();
    await echo?.close();
    await jwks?.close();
    await removeTempDir(tmp);
  });

  test('many concurrent connections are all served, by both workers', withLogs(async (t) => {
    const token = await mintToken(key, { iss: ISSUER, aud: resource, scope: 'mcp:access' });
    const [w0, w1] = await perWorker();
    const raw = Array.from({ length: 40 }, (_, i) => rawAdd(token, 10 * i + 1));
    const sdk = Array.from({ length: 4 }, () => sdkAdd(token));
    await Promise.all([...raw, ...sdk]);
    const [a0, a1] = await perWorker();
    t.diagnostic(`requests per worker: ${a0 - w0} / ${a1 - w1}`);
    assert.ok(a0 - w0 > 0, 'worker 0 served requests');
    assert.ok(a1 - w1 > 0, 'worker 1 served requests');
    // 40 × 3 raw requests + the SDK clients' (at least initialize,
    // initialized, tools/call and the session DELETE each).
    assert.ok(a0 - w0 + (a1 - w1) >= 40 * 3 + 4 * 3);
  }));

  test('SIGHUP changes the decision on every worker; the unchanged provider keeps its keys', withLogs(async (t) => {
    const token = await mintToken(key, { iss: ISSUER, aud: resource, scope: 'mcp:access' });
    const status = JSON.parse((await admin('/jwks_status')).body).providers.test;
    assert.equal(status.last_result, 'ok');
    const fetches = jwks.count();

    // /ready is polled through the whole reload: it must never say 503.
    let polling = true;
    const readiness = [];
    const poller = (async () => {
      while (polling) {
        readiness.push((await admin('/ready')).status);
        await sleep(10);
      }
    })();
    config.routes[0].auth.scopes = ['mcp:access', 'math:admin'];
    await reload();
    await sleep(300);
    polling = false;
    await poller;
    t.diagnostic(`/ready polled ${readiness.length} times during the reload`);
    assert.ok(readiness.length > 0);
    assert.deepEqual([...new Set(readiness)], [200], '/ready stayed 200');
    const carried = JSON.parse((await admin('/jwks_status')).body).providers.test;
    assert.equal(carried.last_fetch, status.last_fetch, 'no refetch: the same last fetch time');
    assert.equal(carried.last_success, status.last_success);
    assert.equal(jwks.count(), fetches, 'the JWKS server saw no request');

    // Every worker now asks for math:admin.
    const [w0, w1] = await perWorker();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        httpRequest(url(), {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
          body: initializeBody(i + 1),
        }),
      ),
    );
    const [a0, a1] = await perWorker();
    t.diagnostic(`after reload, requests per worker: ${a0 - w0} / ${a1 - w1}`);
    assert.ok(a0 - w0 > 0 && a1 - w1 > 0, 'both workers answered after the reload');
    for (const r of results) {
      assert.equal(r.status, 403, r.body);
      assert.match(r.headers['www-authenticate'], /insufficient_scope/);
      assert.match(r.headers['www-authenticate'], /math:admin/);
    }

    // A reload that changes the provider builds a new one, which fetches.
    config.providers.test.audiences = ['another-audience'];
    config.routes[0].auth.scopes = ['mcp:access'];
    await reload();
    await jwks.waitForRequest(fetches);
    await waitFor(async () => (await admin('/ready')).status === 200, 'the new provider to be ready');
    const refetched = JSON.parse((await admin('/jwks_status')).body).providers.test;
    assert.equal(refetched.last_result, 'ok');
    const ok = await httpRequest(url(), {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
      body: initializeBody(1),
    });
    assert.equal(ok.status, 200, ok.body);
  }));

  test('SIGTERM: in-flight requests on both workers finish, exit 0', withLogs(async (t) => {
    echo.setHandler((req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url }));
      }, 800);
    });
    const [w0, w1] = await perWorker();
    const inFlight = Array.from({ length: 16 }, (_, i) => httpRequest(`http://127.0.0.1:${port}/slow/${i}`));
    await echo.waitForRequests(16, 10000);
    const [a0, a1] = await perWorker();
    t.diagnostic(`in flight per worker: ${a0 - w0} / ${a1 - w1}`);
    assert.ok(a0 - w0 > 0 && a1 - w1 > 0, 'both workers have requests in flight');
    const signalled = Date.now();
    gateway.child.kill('SIGTERM');
    const results = await Promise.all(inFlight);
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200, `in-flight request ${i}`);
      assert.equal(JSON.parse(r.body).url, `/slow/${i}`);
    }
    await gateway.exited;
    const took = Date.now() - signalled;
    t.diagnostic(`exit code ${gateway.exitCode} after ${took} ms`);
    assert.equal(gateway.exitCode, 0);
    assert.ok(took < 10000, `exited before the drain timeout (${took} ms)`);
  }));
});
