// Sessions bound to the principal that opened them, named by the server
// that minted them (docs/authorization.md "Sessions bound to their user"),
// against the real mcp-add-server. One backend is reached through four
// routes, each with its own upstream name (different base paths, same
// host:port): a protected route, a second protected route, an
// `allow_missing` route and an `auth: none` route. A session of one user
// must answer 404 to anyone else on all of them; an id the gateway never
// bound answers 404 (default `unknown_sessions: refuse`) so the client
// initializes again; one user opening many sessions evicts only their own.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBackend } from './lib/backend.mjs';
import { launchGateway, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://idp.session-binding.test';
const PER_PRINCIPAL = 3;
const CALL_ADD = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } } });
// The backend serves /a/b/c/mcp; each route's upstream adds what its prefix lacks.
const ROUTES = {
  main: { prefix: '/a/b/c/mcp', base: '', auth: { providers: ['test'], scopes: ['mcp:access'] } },
  second: { prefix: '/b/c/mcp', base: '/a', auth: { providers: ['test'], scopes: ['mcp:access'] } },
  open: { prefix: '/c/mcp', base: '/a/b', auth: { providers: ['test'], allow_missing: true } },
  none: { prefix: '/mcp', base: '/a/b/c', auth: 'none' },
};

async function startSessionGateway(dir, backendOrigin, name, authz) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const upstreams = {};
  const routes = [];
  for (const [route, { prefix, base, auth }] of Object.entries(ROUTES)) {
    upstreams[`up_${route}`] = { url: `${backendOrigin}${base}` };
    routes.push({ path_prefix: prefix, upstream: `up_${route}`, resource: `${origin}${prefix}`, auth });
  }
  const config = {
    listeners: [{ address: `127.0.0.1:${port}` }],
    providers: { test: { issuer: ISSUER, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
    upstreams,
    routes,
    authz,
  };
  const { proc } = await launchGateway(dir, config, `${name}.yaml`, name);
  const url = (route) => `${origin}${ROUTES[route].prefix}`;
  // Rewrites the file with other `authz` settings and waits for the reload.
  const reload = async (newAuthz) => {
    const reloads = () => proc.stderr.split('configuration reloaded').length - 1;
    const before = reloads();
    await writeConfig(dir, { ...config, authz: newAuthz }, `${name}.yaml`);
    proc.child.kill('SIGHUP');
    const deadline = Date.now() + 10000;
    while (reloads() === before) {
      if (Date.now() > deadline || !proc.running) throw new Error(`no reload\n${proc.describe()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { origin, url, reload };
}

function headers(token, session) {
  const h = { ...MCP_POST_HEADERS, 'mcp-protocol-version': '2025-06-18' };
  if (token) h.authorization = `Bearer ${token}`;
  if (session) h['mcp-session-id'] = session;
  return h;
}

// initialize + notifications/initialized by hand; returns the session id.
async function openSession(url, token) {
  const init = await httpRequest(url, { method: 'POST', headers: headers(token), body: initializeBody(1) });
  assert.equal(init.status, 200, `initialize: ${init.status} ${init.body}`);
  const session = init.headers['mcp-session-id'];
  assert.ok(session, 'the backend issued a session id');
  const initialized = await httpRequest(url, {
    method: 'POST',
    headers: headers(token, session),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202, `initialized: ${initialized.status} ${initialized.body}`);
  return session;
}

async function callAdd(url, token, session) {
  return httpRequest(url, { method: 'POST', headers: headers(token, session), body: CALL_ADD });
}

function assertSessionNotFound(res, what) {
  assert.equal(res.status, 404, `${what}: ${res.status} ${res.body}`);
  const body = JSON.parse(res.body);
  assert.equal(body.error?.code, -32001, `${what}: ${res.body}`);
  assert.equal(body.error?.message, 'Session not found', `${what}: ${res.body}`);
}

describe('session binding', () => {
  let tmp;
  let key;
  let backend;
  let refuse; // default unknown_sessions: refuse
  let adopt; // unknown_sessions: adopt, same backend
  // A token for `route` of the refusing gateway (its audience is the route's resource).
  const token = (gateway, route, sub) => mintToken(key, { iss: ISSUER, aud: gateway.url(route), sub, scope: 'mcp:access' });

  before(async () => {
    tmp = await makeTempDir();
    key = await generateSigningKey('session-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    backend = await startBackend({ path: '/a/b/c/mcp' });
    refuse = await startSessionGateway(tmp, backend.origin, 'gw-sessions-refuse', { max_sessions_per_principal: PER_PRINCIPAL });
    adopt = await startSessionGateway(tmp, backend.origin, 'gw-sessions-adopt', { unknown_sessions: 'adopt' });
  });
  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  test("MCP-08/MCP-09: a user's session through any other route to the same server: 404 for everyone else", withLogs(async () => {
    const alice = await token(refuse, 'main', 'alice-routes');
    const session = await openSession(refuse.url('main'), alice);
    const bob = await token(refuse, 'second', 'bob-routes');
    assertSessionNotFound(await callAdd(refuse.url('second'), bob, session), 'another user, second route');
    const bobOpen = await token(refuse, 'open', 'bob-routes');
    assertSessionNotFound(await callAdd(refuse.url('open'), bobOpen, session), 'another user, allow_missing route');
    assertSessionNotFound(await callAdd(refuse.url('open'), null, session), 'anonymous, allow_missing route');
    assertSessionNotFound(await callAdd(refuse.url('none'), null, session), "anonymous, 'auth: none' route");
    const del = await httpRequest(refuse.url('none'), { method: 'DELETE', headers: headers(null, session) });
    assertSessionNotFound(del, "DELETE, 'auth: none' route");
    // Its owner still has it, on her own route and on another route to that server.
    const own = await callAdd(refuse.url('main'), alice, session);
    assert.equal(own.status, 200, own.body);
    const aliceSecond = await token(refuse, 'second', 'alice-routes');
    const elsewhere = await callAdd(refuse.url('second'), aliceSecond, session);
    assert.equal(elsewhere.status, 200, elsewhere.body);
    assert.equal(JSON.parse(elsewhere.body).result?.structuredContent?.result, 5, elsewhere.body);
  }));

  test("MCP-09: an anonymous session on an 'auth: none' route is bound too: a token holder gets 404", withLogs(async () => {
    const session = await openSession(refuse.url('none'), null);
    const again = await callAdd(refuse.url('none'), null, session);
    assert.equal(again.status, 200, again.body);
    const alice = await token(refuse, 'main', 'alice-anon');
    assertSessionNotFound(await callAdd(refuse.url('main'), alice, session), 'token holder on an anonymous session');
  }));

  test('DELETE ends the binding: the id is unknown afterwards, to its owner too', withLogs(async () => {
    const alice = await token(refuse, 'main', 'alice-delete');
    const session = await openSession(refuse.url('main'), alice);
    const del = await httpRequest(refuse.url('main'), { method: 'DELETE', headers: headers(alice, session) });
    assert.ok(del.status >= 200 && del.status < 300, `DELETE ${del.status} ${del.body}`);
    assertSessionNotFound(await callAdd(refuse.url('main'), alice, session), 'after DELETE');
  }));

  test('MCP-10: an id the gateway never bound → 404 -32001, though the backend knows it (refuse)', withLogs(async () => {
    // Opened through the other gateway: like a session from before a restart.
    const aliceAdopt = await token(adopt, 'main', 'alice-unknown');
    const session = await openSession(adopt.url('main'), aliceAdopt);
    const alice = await token(refuse, 'main', 'alice-unknown');
    assertSessionNotFound(await callAdd(refuse.url('main'), alice, session), 'unknown session, its creator');
    assertSessionNotFound(await callAdd(refuse.url('none'), null, session), 'unknown session, anonymous');
    const made = await callAdd(refuse.url('main'), alice, 'never-issued-by-anyone');
    assertSessionNotFound(made, 'an invented id');
  }));

  test('unknown_sessions: adopt binds an unknown session to its first user; others get 404', withLogs(async () => {
    const aliceRefuse = await token(refuse, 'main', 'alice-adopt');
    const session = await openSession(refuse.url('main'), aliceRefuse);
    // The adopting gateway has never seen it: the first user to present it owns it.
    const alice = await token(adopt, 'main', 'alice-adopt');
    const first = await callAdd(adopt.url('main'), alice, session);
    assert.equal(first.status, 200, first.body);
    const bob = await token(adopt, 'second', 'bob-adopt');
    assertSessionNotFound(await callAdd(adopt.url('second'), bob, session), 'another user after adoption');
    assertSessionNotFound(await callAdd(adopt.url('none'), null, session), 'anonymous after adoption');
    const still = await callAdd(adopt.url('main'), alice, session);
    assert.equal(still.status, 200, still.body);
  }));

  test(`MCP-11: per-principal cap (${PER_PRINCIPAL}): one user opening more sessions evicts only their own`, withLogs(async () => {
    const bob = await token(refuse, 'main', 'bob-cap');
    const bobSession = await openSession(refuse.url('main'), bob);
    const alice = await token(refuse, 'main', 'alice-cap');
    const aliceSessions = [];
    for (let i = 0; i < PER_PRINCIPAL + 4; i++) aliceSessions.push(await openSession(refuse.url('main'), alice));
    const bobAfter = await callAdd(refuse.url('main'), bob, bobSession);
    assert.equal(bobAfter.status, 200, `bob's session survived: ${bobAfter.body}`);
    for (const [i, session] of aliceSessions.entries()) {
      const res = await callAdd(refuse.url('main'), alice, session);
      if (i < 4) {
        assertSessionNotFound(res, `alice's session ${i} (evicted, her oldest)`);
      } else {
        assert.equal(res.status, 200, `alice's session ${i} (among her ${PER_PRINCIPAL} newest): ${res.body}`);
      }
    }
  }));

  test('MCP-11: a reload keeps the bindings and applies a smaller per-principal cap to them', withLogs(async () => {
    const gw = await startSessionGateway(tmp, backend.origin, 'gw-sessions-reload', { max_sessions_per_principal: 3 });
    const alice = await token(gw, 'main', 'alice-reload');
    const bob = await token(gw, 'main', 'bob-reload');
    const aliceSessions = [];
    for (let i = 0; i < 3; i++) aliceSessions.push(await openSession(gw.url('main'), alice));
    const bobSession = await openSession(gw.url('main'), bob);
    await gw.reload({ max_sessions_per_principal: 2 });
    assertSessionNotFound(await callAdd(gw.url('main'), alice, aliceSessions[0]), "alice's oldest, over the new cap");
    for (const session of aliceSessions.slice(1)) {
      const res = await callAdd(gw.url('main'), alice, session);
      assert.equal(res.status, 200, `kept across the reload: ${res.body}`);
    }
    const bobAfter = await callAdd(gw.url('main'), bob, bobSession);
    assert.equal(bobAfter.status, 200, bobAfter.body);
    assertSessionNotFound(await callAdd(gw.url('main'), alice, bobSession), "still bound to bob after the reload");
  }));

  test('the SDK client gets a 404 StreamableHTTPError for an evicted session and recovers by connecting again', withLogs(async () => {
    const alice = await token(refuse, 'main', 'alice-sdk');
    const connect = async () => {
      const client = new Client({ name: 'session-binding', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(refuse.url('main')), {
        requestInit: { headers: { Authorization: `Bearer ${alice}` } },
      });
      await client.connect(transport);
      return { client, transport };
    };
    const first = await connect();
    const firstSession = first.transport.sessionId;
    try {
      assert.ok(firstSession, 'the SDK holds a session');
      // Push it out: PER_PRINCIPAL newer sessions of the same user.
      for (let i = 0; i < PER_PRINCIPAL; i++) await openSession(refuse.url('main'), alice);
      await assert.rejects(
        first.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }),
        (err) => err instanceof StreamableHTTPError && err.code === 404 && /Session not found/.test(err.message),
      );
    } finally {
      await first.client.close();
    }
    // The SDK (1.32) does not re-initialize by itself: the application
    // connects again, which initializes a new, bound session.
    const second = await connect();
    try {
      assert.notEqual(second.transport.sessionId, firstSession);
      const result = await second.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
    } finally {
      await second.client.close();
    }
  }));
});
