// config/multi-route.yaml, as shipped, in front of the servers it names:
// mcp-add-server behind /math and @modelcontextprotocol/server-everything
// behind /everything, each serving /mcp itself. `prefix_rewrite: /mcp`
// sends /math and /everything to their /mcp; the official SDK client logs
// in with a dev token per route, lists and calls tools; each route's
// protected-resource metadata stays at the path of its own resource.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { DEV_PRIVATE_KEY, GATEWAY_BIN, SOURCE_DIR, requireFile } from './lib/env.mjs';
import { startEverything } from './lib/everything.mjs';
import { freePort } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { assertAddOnly, connectWithBearer } from './lib/sdk_client.mjs';
import { devToken } from './lib/tokens.mjs';

const CONFIG = join(SOURCE_DIR, 'config', 'multi-route.yaml');
const ISSUER = 'https://dev.mcp-auth-gateway.local'; // the file's default

const connect = (url, token) => connectWithBearer(url, token, 'multi-route-test');

describe('config/multi-route.yaml against its own backends', () => {
  let origin;
  let math;
  let everything;

  before(async () => {
    math = await startBackend();
    everything = await startEverything();
    const port = await freePort();
    const admin = await freePort();
    origin = `http://127.0.0.1:${port}`;
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', requireFile(CONFIG, 'config/multi-route.yaml')], {
      env: {
        LISTEN_ADDRESS: `127.0.0.1:${port}`,
        ADMIN_ADDRESS: `127.0.0.1:${admin}`,
        PUBLIC_URL: origin,
        MATH_BACKEND_URL: math.origin,
        EVERYTHING_BACKEND_URL: everything.origin,
        AUTH_ISSUER: '',
        JWKS_FILE: '',
      },
    });
  });

  after(stopAll);

  const token = (aud, scope) => devToken({ keyFile: DEV_PRIVATE_KEY, iss: ISSUER, aud, scope });

  test('/math reaches mcp-add-server at /mcp: add(2, 3) = 5', withLogs(async () => {
    await assertAddOnly(await connect(`${origin}/math`, await token(`${origin}/math`, 'mcp:math math:add')));
  }));

  test('/everything reaches server-everything at /mcp; its rules apply', withLogs(async () => {
    const client = await connect(`${origin}/everything`, await token(`${origin}/everything`, 'mcp:everything'));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('echo'), `echo listed: ${names}`);
      assert.ok(!names.includes('get-env'), `get-env (deny) is not listed: ${names}`);
      assert.ok(!names.includes('trigger-long-running-operation'), `a tool that needs a scope the token lacks is not listed: ${names}`);
      const echoed = await client.callTool({ name: 'echo', arguments: { message: 'through /everything' } });
      assert.equal(echoed.content?.[0]?.text, 'Echo: through /everything', JSON.stringify(echoed));
      await assert.rejects(client.callTool({ name: 'get-env', arguments: {} }), /403|forbidden|denied/i);
    } finally {
      await client.close();
    }
  }));

  test('a token for one route is refused on the other', withLogs(async () => {
    const mathToken = await token(`${origin}/math`, 'mcp:math math:add mcp:everything');
    const r = await fetch(`${origin}/everything`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${mathToken}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /oauth-protected-resource\/everything/);
  }));

  test('each route has its metadata at the path of its resource, not of its upstream', withLogs(async () => {
    for (const route of ['math', 'everything']) {
      const r = await fetch(`${origin}/.well-known/oauth-protected-resource/${route}`);
      assert.equal(r.status, 200, route);
      const prm = await r.json();
      assert.equal(prm.resource, `${origin}/${route}`);
      assert.deepEqual(prm.authorization_servers, [ISSUER]);
    }
    const upstreamPath = await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(upstreamPath.status, 404);
  }));
});
