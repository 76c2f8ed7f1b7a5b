// What the upstream sees and what the client gets back, through an echo
// upstream that records every request. Checklist sections E and F.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEchoFixture } from './lib/echo_fixture.mjs';
import { MCP_POST_HEADERS, httpRequest, initializeBody } from './lib/net.mjs';
import { startGateway } from './lib/gateway.mjs';
import { withLogs } from './lib/processes.mjs';
import { mintToken } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.forwarding.example';

describe('forwarding to the upstream', () => {
  let fixture;
  let upstream;
  let gateway;
  let token;

  before(async () => {
    fixture = await startEchoFixture({ issuer: ISSUER, kid: 'fwd-key' });
    ({ upstream, gateway, token } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  test('POST: MCP headers and body pass unchanged; Authorization and hop-by-hop headers do not', withLogs(async () => {
    await fixture.openSession('session-abc-123');
    const body = initializeBody(7);
    const res = await httpRequest(`${gateway.url}?probe=1`, {
      method: 'POST',
      headers: {
        ...auth(),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': 'session-abc-123',
        'mcp-protocol-version': '2025-06-18',
        'last-event-id': 'event-42',
        'mcp-custom-extension': 'kept',
        connection: 'keep-alive, x-hop-secret',
        'x-hop-secret': 'must-not-pass',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        upgrade: 'example/1',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'x-forwarded-for': '203.0.113.9',
      },
      body,
    });
    assert.equal(res.status, 200, res.body);
    const seen = upstream.last();
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/mcp?probe=1', 'path and query reach the upstream');
    assert.equal(seen.body, body, 'the body is forwarded byte for byte');

    assert.equal(seen.headers.authorization, undefined, 'no Authorization upstream (no token passthrough)');
    assert.ok(!JSON.stringify(seen.rawHeaders).includes(token), 'the token appears nowhere upstream');

    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers.accept, 'application/json, text/event-stream');
    assert.equal(seen.headers['mcp-session-id'], 'session-abc-123');
    assert.equal(seen.headers['mcp-protocol-version'], '2025-06-18');
    assert.equal(seen.headers['last-event-id'], 'event-42');
    assert.equal(seen.headers['mcp-custom-extension'], 'kept', 'unknown Mcp-* headers pass');

    for (const hop of ['x-hop-secret', 'keep-alive', 'te', 'upgrade', 'proxy-authorization']) {
      assert.equal(seen.headers[hop], undefined, `hop-by-hop header ${hop} is not forwarded`);
    }

    const xff = (seen.headers['x-forwarded-for'] ?? '').split(',').map((s) => s.trim());
    assert.equal(xff[xff.length - 1], '127.0.0.1', `X-Forwarded-For ends with the client address: ${seen.headers['x-forwarded-for']}`);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${gateway.port}`);
    assert.equal(seen.headers.host, new URL(upstream.origin).host, 'by default the upstream sees its own Host');
  }));

  test('host_header: `client` passes the client\'s Host, a fixed value is sent as is', withLogs(async () => {
    upstream.setHandler(null);
    for (const [hostHeader, expected] of [['client', (gw) => `127.0.0.1:${gw.port}`], ['mcp.internal.example:8443', () => 'mcp.internal.example:8443']]) {
      const gw = await startGateway({
        dir: fixture.tmp,
        name: `gateway-${hostHeader.replace(/[^a-z]/g, '')}.yaml`,
        upstreamUrl: upstream.origin,
        issuer: ISSUER,
        jwksFile: fixture.jwksFile,
        upstream: { host_header: hostHeader },
      });
      const gwToken = await mintToken(fixture.key, { iss: ISSUER, aud: gw.resource });
      const res = await httpRequest(gw.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${gwToken}` },
        body: initializeBody(8),
      });
      assert.equal(res.status, 200, res.body);
      const seen = upstream.last();
      assert.equal(seen.headers.host, expected(gw), `host_header: ${hostHeader}`);
      assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${gw.port}`);
      gw.proc.child.kill('SIGTERM');
      await gw.proc.exited;
    }
  }));

  test('GET (stream resume) and DELETE reach the same upstream path with their headers', withLogs(async () => {
    await fixture.openSession('s-1');
    upstream.setHandler((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end('id: 43\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\n\n');
      } else {
        res.writeHead(200).end();
      }
    });
    const get = await httpRequest(gateway.url, {
      headers: { ...auth(), accept: 'text/event-stream', 'mcp-session-id': 's-1', 'last-event-id': 'event-42', 'mcp-protocol-version': '2025-06-18' },
    });
    assert.equal(get.status, 200, get.body);
    assert.match(get.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.equal(get.body, 'id: 43\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\n\n');
    let seen = upstream.last();
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/mcp');
    assert.equal(seen.headers.accept, 'text/event-stream');
    assert.equal(seen.headers['last-event-id'], 'event-42');
    assert.equal(seen.headers['mcp-session-id'], 's-1');
    assert.equal(seen.headers.authorization, undefined);

    const del = await httpRequest(gateway.url, { method: 'DELETE', headers: { ...auth(), 'mcp-session-id': 's-1' } });
    assert.equal(del.status, 200, del.body);
    seen = upstream.last();
    assert.equal(seen.method, 'DELETE');
    assert.equal(seen.url, '/mcp');
    assert.equal(seen.headers['mcp-session-id'], 's-1');
    assert.equal(seen.headers.authorization, undefined);
  }));

  test('response headers from the upstream reach the client (Mcp-Session-Id, Content-Type)', withLogs(async () => {
    upstream.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'new-session-0f3a', 'x-upstream': 'yes' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    const res = await httpRequest(gateway.url, { method: 'POST', headers: { ...auth(), ...MCP_POST_HEADERS }, body: initializeBody() });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['mcp-session-id'], 'new-session-0f3a');
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(res.body, '{"jsonrpc":"2.0","id":1,"result":{}}');
  }));

  const statuses = [
    { status: 202, headers: {}, body: '' },
    { status: 400, headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Bad Request: unsupported MCP-Protocol-Version"}}' },
    { status: 404, headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}' },
    { status: 405, headers: { 'content-type': 'text/plain', allow: 'GET, POST' }, body: 'Method Not Allowed' },
  ];
  for (const { status, headers, body } of statuses) {
    test(`upstream status ${status} passes through unchanged with its body`, withLogs(async () => {
      upstream.setHandler((req, res) => {
        res.writeHead(status, headers);
        res.end(body);
      });
      const res = await httpRequest(gateway.url, { method: 'POST', headers: { ...auth(), ...MCP_POST_HEADERS }, body: initializeBody() });
      assert.equal(res.status, status, res.body);
      assert.equal(res.body, body);
      if (headers['content-type']) assert.equal(res.headers['content-type'], headers['content-type']);
      if (headers.allow) assert.equal(res.headers.allow, headers.allow);
    }));
  }
});
