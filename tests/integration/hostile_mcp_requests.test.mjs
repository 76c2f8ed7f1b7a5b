// The gateway authorizes exactly what the upstream will execute: a request
// whose body an upstream could read otherwise than the gateway (a charset
// such as UTF-7, a content coding, another media type, a body on GET or
// DELETE) or whose MCP headers carry two values is refused before anything
// reaches the upstream, over HTTP/1.1 (raw bytes) and HTTP/2 (raw frames,
// lib/h2raw.mjs). Header names with `_` are not forwarded.
//
// Two upstreams: a raw-TCP recorder (lib/raw_upstream.mjs), so "nothing
// forwarded" is checked on the bytes it really received, and the TypeScript
// SDK's own Express setup (lib/express_mcp_upstream.mjs: express.json(),
// which honours `charset=utf-7`), against which the UTF-7 exploit is shown
// to work directly and to be refused through the gateway.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startExpressMcpUpstream } from './lib/express_mcp_upstream.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { block, data, H2Client, headers } from './lib/h2raw.mjs';
import { freePort, h2Request, httpRequest } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { rawExchange, startRawUpstream } from './lib/raw_upstream.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.hostile-mcp.example';
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
const ACCEPT = 'application/json, text/event-stream';
const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const call = (name) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {} } });
// `secret` spelled in UTF-7 ("+AHM-" is "s"), and tools/call itself ("+AHQ-" is "t"):
// plain ASCII, so jansson reads it as UTF-8 and sees another name.
const UTF7_SECRET = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"+AHM-ecret","arguments":{}}}';
const UTF7_METHOD = '{"jsonrpc":"2.0","id":7,"method":"+AHQ-ools/call","params":{"name":"+AHM-ecret","arguments":{}}}';

// The rules that read the body on every route that has them.
const TOOL_RULES = { secret: ['tools:secret'] };

describe('hostile MCP requests: one reading of every request', () => {
  let tmp;
  let raw; // raw-TCP recorder
  let express; // the SDK's express.json() MCP server
  let gw; // { proc, port, origin }
  const tokens = {}; // route prefix -> token with mcp:access only
  let secretToken; // /mcp token with tools:secret

  before(async () => {
    tmp = await makeTempDir('mag-mcpreq-');
    raw = await startRawUpstream('ok');
    express = await startExpressMcpUpstream({ paths: ['/mcp', '/open'] });
    const key = await generateSigningKey('mcpreq-key');
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const route = (path_prefix, upstream, auth, extra = {}) => ({ path_prefix, upstream, resource: `${origin}${path_prefix}`, auth, ...extra });
    const config = {
      listeners: [{ address: `127.0.0.1:${port}` }],
      providers: { test: { issuer: ISSUER, jwks_file: jwksFile, algorithms: ['RS256'] } },
      upstreams: { express: { url: express.origin }, raw: { url: raw.origin } },
      routes: [
        // The SDK server: a scoped route with a tool rule, and an allow_missing one.
        route('/mcp', 'express', { providers: ['test'], scopes: ['mcp:access'], tools: TOOL_RULES }),
        route('/open', 'express', { providers: ['test'], allow_missing: true, tools: TOOL_RULES }),
        // The recorder behind the same kinds of route, one without body rules, one public.
        route('/guarded', 'raw', { providers: ['test'], scopes: ['mcp:access'], tools: TOOL_RULES }),
        route('/anon', 'raw', { providers: ['test'], allow_missing: true, tools: TOOL_RULES }),
        route('/plain', 'raw', { providers: ['test'], scopes: ['mcp:access'] }, { claim_to_headers: { sub: 'X-MCP-Subject' } }),
        route('/public', 'raw', 'none'),
      ],
      // The recorder mints no sessions, and the requests here invent their
      // ids: adopted, so that what is tested is the headers themselves
      // (session binding has its own file, session_binding.test.mjs).
      authz: { unknown_sessions: 'adopt' },
    };
    const { proc } = await launchGateway(tmp, config);
    gw = { proc, port, origin };
    for (const prefix of ['/mcp', '/open', '/guarded', '/anon', '/plain']) {
      tokens[prefix] = await mintToken(key, { iss: ISSUER, aud: `${origin}${prefix}`, scope: 'mcp:access' });
    }
    secretToken = await mintToken(key, { iss: ISSUER, aud: `${origin}/mcp`, scope: 'mcp:access tools:secret' });
  });
  after(async () => {
    await stopAll();
    await raw?.close();
    await express?.close();
    await removeTempDir(tmp);
  });

  // ---- HTTP/1.1 helpers --------------------------------------------------------

  // A raw request: `fields` is a list of "Name: value" lines; the token of
  // the route unless `token: null`; Content-Length added unless `framing`.
  function h1(method, path, fields, body = '', { token = tokens[path], framing } = {}) {
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    const length = framing ?? (body || method === 'POST' ? `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n` : '');
    const lines = fields.map((f) => `${f}\r\n`).join('');
    return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n${auth}Accept: ${ACCEPT}\r\n${lines}${length}Connection: close\r\n\r\n${body}`;
  }

  async function upstreamQuiet() {
    let last = -1;
    for (let i = 0; i < 25 && raw.state.bytes.length !== last; i++) {
      last = raw.state.bytes.length;
      await settle(100);
    }
  }

  // Bytes the recorder received while `fn` ran (per connection: a pooled one may be reused).
  async function recorded(fn) {
    await upstreamQuiet();
    const before = new Map(raw.state.connections.map((c) => [c, c.chunks.length]));
    const result = await fn();
    await settle();
    const bytes = Buffer.concat(raw.state.connections.flatMap((c) => c.chunks.slice(before.get(c) ?? 0))).toString('latin1');
    return { result, bytes };
  }

  function jsonBody(text) {
    const start = text.indexOf('\r\n\r\n');
    return JSON.parse(text.slice(start + 4));
  }

  // Sends `request`, expects `status` with a JSON-RPC error body and no upstream byte.
  async function refusedH1(label, request, status) {
    const { result: res, bytes } = await recorded(() => rawExchange(gw.port, request, { waitMs: 5000, untilFinal: true }));
    assert.deepEqual(res.statuses, [status], `${label}: ${res.text.slice(0, 400)}`);
    const body = jsonBody(res.text);
    assert.equal(body.jsonrpc, '2.0', `${label}: ${res.text}`);
    assert.equal(typeof body.error?.code, 'number', `${label}: ${res.text}`);
    assert.ok(!('id' in body), `${label}: an error without id: ${res.text}`);
    assert.equal(bytes.length, 0, `${label}: the upstream received:\n${bytes.slice(0, 400)}`);
    assert.ok(gw.proc.running, `${label}: gateway died`);
    return res;
  }

  async function forwardedH1(label, request) {
    const { result: res, bytes } = await recorded(() => rawExchange(gw.port, request, { waitMs: 5000, untilFinal: true }));
    assert.deepEqual(res.statuses, [200], `${label}: ${res.text.slice(0, 400)}`);
    assert.ok(bytes.length > 0, `${label}: nothing reached the upstream`);
    return bytes;
  }

  // The 415 cases, POSTed with a body that is valid JSON in UTF-8.
  const unsupportedTypes = [
    'application/json; charset=utf-7',
    'application/json; charset=UTF-7',
    'application/json;charset="utf-7"',
    'application/json; charset=utf-7-imap',
    'application/json; charset=utf-16',
    'application/json; charset=utf-16le',
    'application/json; charset=latin1',
    'application/json; charset=ISO-8859-1',
    'application/json; charset=utf8',
    'application/json; charset=utf-8; charset=utf-7',
    'application/json;foo=bar',
    'application/json; charset=utf-8; foo=bar',
    'application/json ;charset = utf-8',
    'application/json, application/json',
    'text/plain',
    'text/plain; charset=utf-8',
    'application/json-seq',
    'application/x-www-form-urlencoded',
    'application/vnd.api+json',
  ];

  test('MCP-01/MCP-02: HTTP/1.1: a body read otherwise than as UTF-8 JSON is refused with 415, nothing forwarded', { timeout: 120000 }, withLogs(async () => {
    for (const path of ['/guarded', '/anon']) {
      const token = path === '/anon' ? null : tokens[path];
      for (const type of unsupportedTypes) {
        await refusedH1(`${path} ${type}`, h1('POST', path, [`Content-Type: ${type}`], PING, { token }), 415);
      }
      await refusedH1(`${path} no Content-Type`, h1('POST', path, [], PING, { token }), 415);
      for (const coding of ['gzip', 'deflate', 'br', 'identity, gzip']) {
        const res = await refusedH1(`${path} Content-Encoding ${coding}`, h1('POST', path, ['Content-Type: application/json', `Content-Encoding: ${coding}`], PING, { token }), 415);
        assert.match(res.text, /\r\naccept-encoding: identity\r\n/i, res.text);
      }
      await refusedH1(`${path} two Content-Type fields`, h1('POST', path, ['Content-Type: application/json', 'Content-Type: application/json; charset=utf-7'], PING, { token }), 400);
      // Chunked framing gets the same screen.
      const chunked = `${PING.length.toString(16)}\r\n${PING}\r\n0\r\n\r\n`;
      await refusedH1(`${path} chunked utf-7`, h1('POST', path, ['Content-Type: application/json; charset=utf-7'], chunked, { token, framing: 'Transfer-Encoding: chunked\r\n' }), 415);
    }
  }));

  test('MCP-03: HTTP/1.1: GET and DELETE with a body are refused with 400 where rules read bodies', { timeout: 60000 }, withLogs(async () => {
    const chunked = `${PING.length.toString(16)}\r\n${PING}\r\n0\r\n\r\n`;
    for (const path of ['/guarded', '/anon']) {
      const token = path === '/anon' ? null : tokens[path];
      for (const method of ['GET', 'DELETE', 'PUT']) {
        await refusedH1(`${path} ${method} Content-Length`, h1(method, path, ['Content-Type: application/json'], PING, { token }), 400);
        await refusedH1(`${path} ${method} chunked`, h1(method, path, [], chunked, { token, framing: 'Transfer-Encoding: chunked\r\n' }), 400);
        await refusedH1(`${path} ${method} empty chunked`, h1(method, path, [], '0\r\n\r\n', { token, framing: 'Transfer-Encoding: chunked\r\n' }), 400);
      }
    }
    // Without a body they pass, as before; and on a route whose rules read no body a GET body streams on.
    await forwardedH1('GET /guarded', h1('GET', '/guarded', []));
    await forwardedH1('DELETE /guarded Content-Length: 0', h1('DELETE', '/guarded', ['Mcp-Session-Id: s-1'], '', { framing: 'Content-Length: 0\r\n' }));
    const plain = await forwardedH1('GET /plain with a body', h1('GET', '/plain', [], PING));
    assert.ok(plain.includes(PING), plain);
  }));

  test('HTTP/1.1: application/json, charset=utf-8 in any case and quoting pass and are forwarded unchanged', { timeout: 60000 }, withLogs(async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON;CHARSET="UTF-8"', 'application/json ;\tcharset=UTF-8']) {
      for (const path of ['/guarded', '/anon']) {
        const token = path === '/anon' ? null : tokens[path];
        const bytes = await forwardedH1(`${path} ${type}`, h1('POST', path, [`Content-Type: ${type}`, 'Content-Encoding: identity'], PING, { token }));
        assert.ok(bytes.includes(`\r\nContent-Type: ${type}\r\n`), `${type} forwarded as sent:\n${bytes}`);
        assert.ok(bytes.endsWith(PING), bytes);
      }
    }
  }));

  const mcpHeaders = ['Mcp-Session-Id', 'MCP-Protocol-Version', 'Mcp-Method', 'Mcp-Name'];

  test('MCP-04/MCP-05/MCP-06: HTTP/1.1: two values of an MCP header are refused with 400 on every route', { timeout: 120000 }, withLogs(async () => {
    for (const path of ['/guarded', '/anon', '/plain', '/public']) {
      const token = path === '/anon' || path === '/public' ? null : tokens[path];
      for (const name of mcpHeaders) {
        await refusedH1(`${path} two ${name}`, h1('POST', path, ['Content-Type: application/json', `${name}: a`, `${name}: b`], PING, { token }), 400);
        await refusedH1(`${path} ${name}: a, b`, h1('POST', path, ['Content-Type: application/json', `${name}: a, b`], PING, { token }), 400);
        await refusedH1(`${path} GET ${name}: a,b`, h1('GET', path, [`${name}: a,b`], '', { token }), 400);
      }
      // One id per route: a session belongs to the first principal that used it.
      const value = `v-1${path.replace('/', '-')}`;
      const one = await forwardedH1(`${path} one of each`, h1('POST', path, ['Content-Type: application/json', ...mcpHeaders.map((n) => `${n}: ${value}`)], PING, { token }));
      for (const name of mcpHeaders) assert.ok(one.includes(`\r\n${name}: ${value}\r\n`), `${name} forwarded:\n${one}`);
    }
  }));

  test('MCP-07: HTTP/1.1: header names with an underscore never reach the upstream', { timeout: 30000 }, withLogs(async () => {
    const bytes = await forwardedH1('underscores', h1('POST', '/plain', ['Content-Type: application/json', 'X_MCP_Subject: root', 'x-mcp_subject: root', 'Mcp_Session_Id: other', 'X-Kept: yes'], PING));
    const head = bytes.slice(0, bytes.indexOf('\r\n\r\n'));
    assert.ok(!head.includes('_'), `no field name with '_' upstream:\n${head}`);
    assert.match(head, /\r\nX-MCP-Subject: alice(\r\n|$)/, head); // the gateway's own, from the token
    assert.equal(head.match(/\r\nx-mcp-subject:/gi).length, 1, head);
    assert.match(head, /\r\nX-Kept: yes\r\n/, head);
    const anonymous = await forwardedH1('underscores, public route', h1('GET', '/public', ['X_Forwarded_For: 6.6.6.6'], '', { token: null }));
    assert.ok(!/x_forwarded_for/i.test(anonymous), anonymous);
  }));

  // ---- the UTF-7 exploit against the SDK's express.json() server -----------------

  const post = (path, body, { type = 'application/json', token } = {}) => {
    const h = { 'content-type': type, accept: ACCEPT };
    if (token) h.authorization = `Bearer ${token}`;
    return httpRequest(`${gw.origin}${path}`, { method: 'POST', headers: h, body });
  };

  test('MCP-21: UTF-7 exploit: the SDK server runs `secret` from a UTF-7 body; through the gateway it is a 415', { timeout: 60000 }, withLogs(async () => {
    // Control, straight to the upstream: its body parser honours the
    // charset, so the ASCII bytes the gateway would read as "+AHM-ecret"
    // run `secret`. Without the screen the gateway would have forwarded
    // them: no rule names that tool.
    for (const body of [UTF7_SECRET, UTF7_METHOD]) {
      const calls = express.calls.length;
      const direct = await httpRequest(`${express.origin}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-7', accept: ACCEPT }, body });
      assert.equal(direct.status, 200, direct.body);
      assert.match(direct.body, /secret ran/, direct.body);
      assert.deepEqual(express.calls.slice(calls), [{ tool: 'secret', path: '/mcp' }]);
    }

    const requests = express.requests.length;
    const calls = express.calls.length;
    for (const body of [UTF7_SECRET, UTF7_METHOD]) {
      for (const type of ['application/json; charset=utf-7', 'application/json;charset="UTF-7"']) {
        const scoped = await post('/mcp', body, { type, token: tokens['/mcp'] });
        assert.equal(scoped.status, 415, scoped.body);
        assert.equal(JSON.parse(scoped.body).error.code, -32000, scoped.body);
        const anonymous = await post('/open', body, { type });
        assert.equal(anonymous.status, 415, anonymous.body);
      }
    }
    await settle();
    assert.equal(express.requests.length, requests, 'no refused request reached the SDK server');
    assert.deepEqual(express.calls.slice(calls), [], 'no tool ran');

    // In UTF-8 the gateway sees the real name: 403 / 401 without the scope,
    // and with it the tool runs.
    const forbidden = await post('/mcp', call('secret'), { token: tokens['/mcp'] });
    assert.equal(forbidden.status, 403, forbidden.body);
    assert.match(forbidden.headers['www-authenticate'], /insufficient_scope/);
    const anonymous = await post('/open', call('secret'));
    assert.equal(anonymous.status, 401, anonymous.body);
    assert.deepEqual(express.calls.slice(calls), [], 'no tool ran');
    const allowed = await post('/mcp', call('secret'), { type: 'application/json; charset=utf-8', token: secretToken });
    assert.equal(allowed.status, 200, allowed.body);
    assert.match(allowed.body, /secret ran/);
    const echo = await post('/open', call('echo'), { type: 'APPLICATION/JSON;CHARSET="UTF-8"' });
    assert.equal(echo.status, 200, echo.body);
    assert.match(echo.body, /echo ran/);
    assert.deepEqual(express.calls.slice(calls).map((c) => c.tool), ['secret', 'echo']);
  }));

  // ---- HTTP/2 --------------------------------------------------------------------

  function h2Fields(method, path, extra, { token = tokens[path] } = {}) {
    const f = [[':method', method], [':scheme', 'http'], [':path', path], [':authority', `127.0.0.1:${gw.port}`]];
    if (token) f.push(['authorization', `Bearer ${token}`]);
    f.push(['accept', ACCEPT], ...extra);
    return f;
  }

  // One stream on a fresh connection: HEADERS (+ DATA when `body` is a
  // string, END_STREAM on the last frame). Resolves with the status and the
  // new upstream bytes.
  async function h2Exchange(fields, body) {
    return recorded(async () => {
      const c = await H2Client.connect(gw.port);
      try {
        if (body === undefined) {
          c.send(headers(1, block(fields), { endStream: true }));
        } else {
          c.send(Buffer.concat([headers(1, block(fields)), data(1, body, true)]));
        }
        await c.waitFor(() => c.streamOutcome(1) !== undefined, 10000);
        return c.streamOutcome(1);
      } finally {
        c.close();
      }
    });
  }

  async function refusedH2(label, fields, body, status) {
    const { result, bytes } = await h2Exchange(fields, body);
    assert.deepEqual(result, { status }, `${label}: ${JSON.stringify(result)}`);
    assert.equal(bytes.length, 0, `${label}: the upstream received:\n${bytes.slice(0, 400)}`);
    assert.ok(gw.proc.running, `${label}: gateway died`);
  }

  async function forwardedH2(label, fields, body) {
    const { result, bytes } = await h2Exchange(fields, body);
    assert.deepEqual(result, { status: 200 }, `${label}: ${JSON.stringify(result)}`);
    assert.ok(bytes.length > 0, `${label}: nothing reached the upstream`);
    return bytes;
  }

  test('MCP-01..07: HTTP/2: the same screens on DATA frames', { timeout: 120000 }, withLogs(async () => {
    for (const path of ['/guarded', '/anon']) {
      const token = path === '/anon' ? null : tokens[path];
      const fields = (method, extra) => h2Fields(method, path, extra, { token });
      for (const type of ['application/json; charset=utf-7', 'application/json; charset=utf-16', 'application/json; charset=ISO-8859-1', 'text/plain', 'application/json;foo=bar']) {
        await refusedH2(`h2 ${path} ${type}`, fields('POST', [['content-type', type]]), PING, 415);
      }
      await refusedH2(`h2 ${path} no content-type`, fields('POST', []), PING, 415);
      await refusedH2(`h2 ${path} gzip`, fields('POST', [['content-type', 'application/json'], ['content-encoding', 'gzip']]), PING, 415);
      await refusedH2(`h2 ${path} two content-type`, fields('POST', [['content-type', 'application/json'], ['content-type', 'application/json; charset=utf-7']]), PING, 400);
      // A body on GET / DELETE: announced by content-length, or only by DATA.
      for (const method of ['GET', 'DELETE']) {
        await refusedH2(`h2 ${path} ${method} DATA`, fields(method, []), PING, 400);
        await refusedH2(`h2 ${path} ${method} content-length + DATA`, fields(method, [['content-length', String(PING.length)]]), PING, 400);
      }
      for (const name of mcpHeaders.map((n) => n.toLowerCase())) {
        await refusedH2(`h2 ${path} two ${name}`, fields('POST', [['content-type', 'application/json'], [name, 'a'], [name, 'b']]), PING, 400);
        await refusedH2(`h2 ${path} ${name}: a,b`, fields('GET', [[name, 'a,b']]), undefined, 400);
      }
      // Passing: plain JSON, a GET with END_STREAM on its HEADERS, a GET
      // whose stream ends with an empty DATA frame.
      for (const type of ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON;CHARSET="UTF-8"']) {
        const bytes = await forwardedH2(`h2 ${path} ${type}`, fields('POST', [['content-type', type]]), PING);
        assert.ok(bytes.endsWith(PING), bytes);
      }
      await forwardedH2(`h2 ${path} GET`, fields('GET', []));
      await forwardedH2(`h2 ${path} GET, empty DATA`, fields('GET', []), '');
    }
    // Every route for the MCP headers, and underscores dropped.
    await refusedH2('h2 /public two mcp-session-id', h2Fields('GET', '/public', [['mcp-session-id', 'a'], ['mcp-session-id', 'b']], { token: null }), undefined, 400);
    await refusedH2('h2 /plain mcp-name a,b', h2Fields('GET', '/plain', [['mcp-name', 'a,b']]), undefined, 400);
    const bytes = await forwardedH2('h2 underscores', h2Fields('POST', '/plain', [['content-type', 'application/json'], ['x_mcp_subject', 'root'], ['mcp_session_id', 'x']]), PING);
    const head = bytes.slice(0, bytes.indexOf('\r\n\r\n'));
    assert.ok(!head.includes('_'), `no field name with '_' upstream:\n${head}`);
    assert.match(head, /\r\nX-MCP-Subject: alice(\r\n|$)/, head);
  }));

  test('MCP-21: HTTP/2: the UTF-7 exploit is a 415 with a JSON-RPC error and no tool runs', { timeout: 30000 }, withLogs(async () => {
    const requests = express.requests.length;
    const calls = express.calls.length;
    for (const [path, token] of [['/mcp', tokens['/mcp']], ['/open', null]]) {
      for (const body of [UTF7_SECRET, UTF7_METHOD]) {
        const h = { 'content-type': 'application/json; charset=utf-7', accept: ACCEPT };
        if (token) h.authorization = `Bearer ${token}`;
        const res = await h2Request(gw.origin, { method: 'POST', path, headers: h, body });
        assert.equal(res.status, 415, res.body);
        const error = JSON.parse(res.body);
        assert.equal(error.jsonrpc, '2.0');
        assert.equal(error.error.code, -32000);
      }
    }
    await settle();
    assert.equal(express.requests.length, requests, 'no refused request reached the SDK server');
    assert.deepEqual(express.calls.slice(calls), [], 'no tool ran');
    const echo = await h2Request(gw.origin, { method: 'POST', path: '/open', headers: { 'content-type': 'application/json; charset=utf-8', accept: ACCEPT }, body: call('echo') });
    assert.equal(echo.status, 200, echo.body);
    assert.match(echo.body, /echo ran/);
  }));
});
