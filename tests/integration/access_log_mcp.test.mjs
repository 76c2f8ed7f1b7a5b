// The access log's mcp_method / mcp_tool and durations (docs/operations.md
// "Access log"): the names are there whenever the gateway read the body —
// on a route whose rules read it, and on a route without rules only when
// the body was already complete in memory before forwarding (here: while
// the request waited for a JWKS refetch for an unknown kid); a body streamed
// straight through is not read just for the log. Durations are written in
// milliseconds with at most three decimals.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { startJwksServer } from './lib/jwks_server.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateEs256Key } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.mcp-log.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const toolsCall = (id, name) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

describe('access log: MCP names and durations', () => {
  let tmp;
  let upstream;
  let jwks;
  let key;
  let origin;
  let logPath;

  const claims = (aud) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, aud, sub: 'alice', client_id: 'c', scope: 'math:add', iat: now, exp: now + 300 };
  };
  const post = (path, token, body, requestId) =>
    httpRequest(`${origin}${path}`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}`, 'x-request-id': requestId },
      body,
    });
  async function lineOf(requestId) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      const raw = text.split('\n').find((l) => l.includes(`"request_id":"${requestId}"`));
      if (raw) return { raw, record: JSON.parse(raw) };
      if (Date.now() > deadline) throw new Error(`no access-log line for ${requestId}\n${text}`);
      await sleep(50);
    }
  }

  before(async () => {
    tmp = await makeTempDir('mag-mcp-log-');
    upstream = await startEchoUpstream();
    key = generateEs256Key('k1');
    jwks = await startJwksServer();
    jwks.setKeys([key]);
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    logPath = join(tmp, 'access.log');
    const provider = { issuer: ISSUER, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks`, algorithms: ['ES256'] };
    await launchGateway(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      providers: { test: provider },
      upstreams: { backend: { url: upstream.origin } },
      routes: [
        { path_prefix: '/rules', upstream: 'backend', resource: `${origin}/rules`, auth: { providers: ['test'], tools: { add: ['math:add'], rm: 'deny' } } },
        { path_prefix: '/plain', upstream: 'backend', resource: `${origin}/plain`, auth: { providers: ['test'] } },
      ],
      access_log: { path: logPath },
    });
    // The first fetch is done once a token passes.
    const deadline = Date.now() + 10000;
    while ((await post('/plain', key.jwt(claims(`${origin}/plain`)), toolsCall(0, 'warmup'), 'warmup')).status !== 200) {
      if (Date.now() > deadline) throw new Error('the gateway never accepted a token');
      await sleep(100);
    }
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await jwks?.close();
    await removeTempDir(tmp);
  });

  test('a route whose rules read the body: method and tool', withLogs(async () => {
    assert.equal((await post('/rules', key.jwt(claims(`${origin}/rules`)), toolsCall(1, 'add'), 'rules-1')).status, 200);
    const { record } = await lineOf('rules-1');
    assert.equal(record.mcp_method, 'tools/call');
    assert.equal(record.mcp_tool, 'add');
    // A batch: "+N" after the first method; a refused body still names them.
    const batch = `[${toolsCall(2, 'rm')},${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' })}]`;
    assert.equal((await post('/rules', key.jwt(claims(`${origin}/rules`)), batch, 'rules-2')).status, 403);
    const second = (await lineOf('rules-2')).record;
    assert.equal(second.mcp_method, 'tools/call +1');
    assert.equal(second.mcp_tool, 'rm');
  }));

  test('a route without rules: streamed bodies are not read; a body already held is', withLogs(async () => {
    assert.equal((await post('/plain', key.jwt(claims(`${origin}/plain`)), toolsCall(4, 'add'), 'plain-1')).status, 200);
    const streamed = (await lineOf('plain-1')).record;
    assert.equal(streamed.mcp_method, undefined, 'a streamed body is not read for the log');
    assert.equal(streamed.mcp_tool, undefined);

    // A token of a new key: the request waits for the JWKS refetch, and its
    // body arrives meanwhile.
    const rotated = generateEs256Key('k2');
    jwks.setKeys([key, rotated]);
    jwks.state.delayMs = 300;
    const fetches = jwks.count();
    assert.equal((await post('/plain', rotated.jwt(claims(`${origin}/plain`)), toolsCall(5, 'add'), 'plain-2')).status, 200);
    assert.ok(jwks.count() > fetches, 'the request waited for a refetch');
    const held = (await lineOf('plain-2')).record;
    assert.equal(held.mcp_method, 'tools/call');
    assert.equal(held.mcp_tool, 'add');
  }));

  test('durations: milliseconds with at most three decimals, as written', withLogs(async () => {
    const text = await readFile(logPath, 'utf8');
    const durations = [...text.matchAll(/"(duration_ms|upstream_ms)":([^,}]+)/g)].map((m) => m[2]);
    assert.ok(durations.length >= 10, text);
    for (const d of durations) {
      if (d === 'null') continue;
      assert.match(d, /^\d+\.\d{1,3}$/, `duration ${d}`);
    }
  }));
});
