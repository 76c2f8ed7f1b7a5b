// upstreams.<name>.credentials.client_credentials and .token_exchange end to
// end: the dev idp (oidc-provider, docker/idp) as the authorization server,
// the gateway, mcp-add-server behind a token-checking upstream that accepts
// only JWTs for its own audience, and the SDK client with users' tokens from
// the idp's authorization code flow.
//   - add(2,3) = 5 through a client credentials upstream (client_secret_basic,
//     client_secret_post, private_key_jwt with a key pair made here) and a
//     token exchange upstream; the upstream sees its own audience, the
//     gateway client (client credentials) or the user with act.sub = the
//     gateway client (exchange) as sub, never a client's token
//   - tokens are cached: repeated requests do not reach the idp again
//     (its per-grant counters, IDP_TEST_COUNTERS); 20 concurrent first
//     requests of one user make one exchange, two users make two; another
//     user gets another upstream token
//   - an exchange the idp refuses (an audience it does not allow) → 403
//     without the idp's error_description; the refusal is remembered: a
//     second request does not reach the idp; both are logged as an allowed
//     caller with upstream_error "token: token_exchange invalid_target"
//   - the idp down → 503 with a JSON-RPC error for a new user, while a
//     cached user still gets through
//   - no upstream token, client secret or client token in the gateway's
//     output or /config_dump ([redacted]); a second client Authorization
//     field is refused (400/401) and never reaches the upstream
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { startDevIdp, userAccessToken } from './lib/dev_idp.mjs';
import { makeTempDir, launchGateway, removeTempDir } from './lib/gateway.mjs';
import { freePort, httpRequest, initializeBody, MCP_POST_HEADERS } from './lib/net.mjs';
import { stopAll } from './lib/processes.mjs';
import { assertAddOnly, connectWithBearer } from './lib/sdk_client.mjs';
import { startTokenCheckingUpstream } from './lib/token_checking_upstream.mjs';

const CC_AUDIENCE = 'https://cc-upstream.example/mcp';
const EXCHANGE_AUDIENCE = 'https://exchange-upstream.example/mcp';
const REFUSED_AUDIENCE = 'https://not-allowed.example/mcp';
const BASIC_SECRET = 'basic-secret-5d1f7a93c2';
const POST_SECRET = 'post-secret-8e04b6d21f';
const USERS = { alice: 'alice-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw', frank: 'frank-pw' };
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AS_DESCRIPTION = 'the requested audience is not allowed';

const sha256 = (value) => createHash('sha256').update(value).digest('hex');

describe('upstream OAuth credentials against the dev idp', () => {
  let tmp;
  let idp;
  let backend;
  let ccChecker;
  let exChecker;
  let gateway;
  let origin;
  let adminOrigin;
  const tokens = {};

  async function counters() {
    const res = await fetch(`${idp.issuer}/test/counters`);
    assert.equal(res.status, 200);
    const body = await res.json();
    const ok = (grant) => body[grant]?.ok ?? 0;
    const error = (grant) => body[grant]?.error ?? 0;
    return { cc: ok('client_credentials'), exchange: ok(TOKEN_EXCHANGE), exchangeErrors: error(TOKEN_EXCHANGE) };
  }

  const post = (path, token, extraHeaders = {}) =>
    httpRequest(`${origin}${path}`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}`, ...extraHeaders },
      body: initializeBody(),
    });

  // Every token hash any client sent to the gateway.
  const clientTokenHashes = () => new Set(Object.values(tokens).map(sha256));

  before(async () => {
    tmp = await makeTempDir('mag-upstream-oauth-');
    const port = await freePort();
    const adminPort = await freePort();
    origin = `http://127.0.0.1:${port}`;
    adminOrigin = `http://127.0.0.1:${adminPort}`;
    const resource = `${origin}/mcp`;

    // private_key_jwt: a key pair made for this run; the idp gets the public JWK.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(tmp, 'gw-jwt.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(join(tmp, 'gw-jwt.jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'gw-jwt-key', alg: 'RS256', use: 'sig' }] }));
    await writeFile(join(tmp, 'gw-post.secret'), `${POST_SECRET}\n`);

    idp = await startDevIdp({
      resources: [resource],
      env: {
        IDP_EXTRA_USERS: Object.entries(USERS).map(([u, p]) => `${u}:${p}`).join(','),
        IDP_GATEWAY_CLIENTS: [
          `gw-basic:client_secret_basic:${BASIC_SECRET}`,
          `gw-post:client_secret_post:${POST_SECRET}`,
          `gw-jwt:private_key_jwt:${join(tmp, 'gw-jwt.jwks.json')}`,
        ].join(','),
        IDP_UPSTREAM_AUDIENCES: [CC_AUDIENCE, EXCHANGE_AUDIENCE].join(','),
        IDP_TEST_COUNTERS: '1',
      },
    });
    backend = await startBackend();
    ccChecker = await startTokenCheckingUpstream({ backend: backend.origin, jwksUri: idp.jwksUri, issuer: idp.issuer, audience: CC_AUDIENCE });
    exChecker = await startTokenCheckingUpstream({ backend: backend.origin, jwksUri: idp.jwksUri, issuer: idp.issuer, audience: EXCHANGE_AUDIENCE });

    const basicClient = { token_endpoint: `${idp.issuer}/token`, client_id: 'gw-basic', auth_method: 'client_secret_basic', client_secret: '${MAG_IT_GW_SECRET}' };
    const clientCredentials = (client) => ({ ...client, resource: CC_AUDIENCE, scopes: ['mcp:tools'] });
    const exchange = (audience) => ({
      // The token endpoint discovered from the issuer's metadata.
      issuer: idp.issuer,
      client_id: 'gw-basic',
      auth_method: 'client_secret_basic',
      client_secret: '${MAG_IT_GW_SECRET}',
      audience,
      scopes: ['mcp:tools'],
    });
    const upstreams = {
      cc_basic: { url: ccChecker.origin, credentials: { client_credentials: clientCredentials(basicClient) } },
      cc_post: {
        url: ccChecker.origin,
        credentials: {
          client_credentials: clientCredentials({ token_endpoint: `${idp.issuer}/token`, client_id: 'gw-post', auth_method: 'client_secret_post', client_secret: { file: 'gw-post.secret' } }),
        },
      },
      cc_jwt: {
        url: ccChecker.origin,
        credentials: {
          client_credentials: clientCredentials({
            token_endpoint: `${idp.issuer}/token`,
            client_id: 'gw-jwt',
            auth_method: 'private_key_jwt',
            private_key_file: 'gw-jwt.pem',
            key_id: 'gw-jwt-key',
            signing_alg: 'RS256',
          }),
        },
      },
      exchanged: { url: exChecker.origin, credentials: { token_exchange: exchange(EXCHANGE_AUDIENCE) } },
      refused: { url: exChecker.origin, credentials: { token_exchange: exchange(REFUSED_AUDIENCE) } },
    };
    const route = (prefix, upstream) => ({ path_prefix: prefix, upstream, prefix_rewrite: '/mcp', resource: `${origin}${prefix}`, auth: { providers: ['idp'] } });
    const config = {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      log_level: 'debug',
      // Users' tokens carry the gateway's resource `/mcp` as aud, accepted on every route.
      providers: { idp: { issuer: idp.issuer, audiences: [resource], algorithms: ['RS256'] } },
      upstreams,
      routes: [route('/cc', 'cc_basic'), route('/cc-post', 'cc_post'), route('/cc-jwt', 'cc_jwt'), route('/exchange', 'exchanged'), route('/refused', 'refused')],
    };
    process.env.MAG_IT_GW_SECRET = BASIC_SECRET;
    try {
      ({ proc: gateway } = await launchGateway(tmp, config));
    } finally {
      delete process.env.MAG_IT_GW_SECRET;
    }

    tokens.dev = await userAccessToken(idp.issuer, resource);
    for (const [user, password] of Object.entries(USERS)) tokens[user] = await userAccessToken(idp.issuer, resource, { user, password });
  });

  after(async () => {
    await stopAll();
    await ccChecker?.close();
    await exChecker?.close();
    await removeTempDir(tmp);
  });

  // The checker's records from `from` on; all accepted, none carrying a client's token.
  function acceptedSince(checker, from) {
    const records = checker.seen.slice(from);
    const clientHashes = clientTokenHashes();
    for (const r of records) {
      assert.equal(r.ok, true, `the upstream refused a request: ${JSON.stringify(r)}`);
      assert.equal(r.authorizationCount, 1, JSON.stringify(r));
      assert.ok(!clientHashes.has(r.tokenSha256[0]), `a client's token reached the upstream: ${JSON.stringify(r)}`);
    }
    return records;
  }

  test('client credentials (basic, post, private_key_jwt): add(2,3) = 5 with the gateway client as sub and the upstream audience, one token request per upstream', async () => {
    const before = await counters();
    for (const [path, clientId] of [
      ['/cc', 'gw-basic'],
      ['/cc-post', 'gw-post'],
      ['/cc-jwt', 'gw-jwt'],
    ]) {
      const from = ccChecker.seen.length;
      await assertAddOnly(await connectWithBearer(`${origin}${path}`, tokens.dev, `cc ${path}`));
      const records = acceptedSince(ccChecker, from);
      assert.ok(records.length >= 3, `initialize, tools/list and tools/call reached the upstream: ${records.length}`);
      for (const r of records) {
        assert.equal(r.sub, clientId, path);
        assert.equal(r.aud, CC_AUDIENCE, path);
        assert.equal(r.clientId, clientId, path);
        assert.equal(r.act, undefined, path);
      }
      assert.equal(new Set(records.map((r) => r.tokenSha256[0])).size, 1, `${path}: one upstream token for the whole session`);
    }
    const afterFirst = await counters();
    // Counted from the idp's start: whether the gateway asks at startup or at
    // the first request, each upstream's token is requested once.
    assert.equal(afterFirst.cc, 3, `one client credentials token per upstream: ${JSON.stringify({ before, afterFirst })}`);

    // Another user, same upstream: the same token (it is the gateway's), no new request.
    const from = ccChecker.seen.length;
    await assertAddOnly(await connectWithBearer(`${origin}/cc`, tokens.alice, 'cc again'));
    const again = acceptedSince(ccChecker, from);
    assert.equal(new Set(again.map((r) => r.sub)).size, 1);
    assert.equal((await counters()).cc, afterFirst.cc, 'repeated requests did not reach the idp');
  });

  test('token exchange: add(2,3) = 5 as the user with act.sub = the gateway client; cached per user', async () => {
    const before = await counters();
    const from = exChecker.seen.length;
    await assertAddOnly(await connectWithBearer(`${origin}/exchange`, tokens.dev, 'exchange dev'));
    const records = acceptedSince(exChecker, from);
    assert.ok(records.length >= 3, `initialize, tools/list and tools/call reached the upstream: ${records.length}`);
    for (const r of records) {
      assert.equal(r.sub, 'dev');
      assert.equal(r.aud, EXCHANGE_AUDIENCE);
      assert.deepEqual(r.act, { sub: 'gw-basic' });
      assert.equal(r.scope, 'mcp:tools');
    }
    const devUpstreamTokens = new Set(records.map((r) => r.tokenSha256[0]));
    assert.equal(devUpstreamTokens.size, 1, 'one exchanged token for the whole session');
    const afterFirst = await counters();
    assert.equal(afterFirst.exchange - before.exchange, 1, 'one exchange for the first session');

    await assertAddOnly(await connectWithBearer(`${origin}/exchange`, tokens.dev, 'exchange dev again'));
    assert.equal((await counters()).exchange, afterFirst.exchange, 'the second session used the cached token');

    // Another user: another exchange, another upstream token, its own sub.
    const fromAlice = exChecker.seen.length;
    await assertAddOnly(await connectWithBearer(`${origin}/exchange`, tokens.alice, 'exchange alice'));
    const alice = acceptedSince(exChecker, fromAlice);
    assert.ok(alice.every((r) => r.sub === 'alice' && r.act?.sub === 'gw-basic'), JSON.stringify(alice));
    assert.ok(alice.every((r) => !devUpstreamTokens.has(r.tokenSha256[0])), 'alice got a token of her own');
    assert.equal((await counters()).exchange, afterFirst.exchange + 1);
  });

  test('20 concurrent first requests of one user make one exchange; two users make two', async () => {
    const c0 = await counters();
    const one = await Promise.all(Array.from({ length: 20 }, () => post('/exchange', tokens.carol)));
    assert.deepEqual(one.map((r) => r.status), Array(20).fill(200), one.find((r) => r.status !== 200)?.body);
    const c1 = await counters();
    assert.equal(c1.exchange - c0.exchange, 1, 'one exchange for 20 concurrent requests');

    const from = exChecker.seen.length;
    const two = await Promise.all(Array.from({ length: 20 }, (_, i) => post('/exchange', i % 2 ? tokens.dave : tokens.erin)));
    assert.deepEqual(two.map((r) => r.status), Array(20).fill(200));
    assert.equal((await counters()).exchange - c1.exchange, 2, 'one exchange per user');
    const seen = acceptedSince(exChecker, from);
    for (const user of ['dave', 'erin']) {
      const hashes = new Set(seen.filter((r) => r.sub === user).map((r) => r.tokenSha256[0]));
      assert.equal(hashes.size, 1, `${user}: one upstream token`);
    }
  });

  // The gateway's access-log line (stdout) of a request, by its id.
  async function accessLine(requestId) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const raw = gateway.stdout.split('\n').find((l) => l.includes(`"request_id":"${requestId}"`));
      if (raw) return JSON.parse(raw);
      if (Date.now() > deadline) throw new Error(`no access-log line for ${requestId}\n${gateway.stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('an exchange the idp refuses → 403 without its error_description, nothing forwarded; the refusal is remembered', async () => {
    const c0 = await counters();
    const from = exChecker.seen.length;
    const res = await post('/refused', tokens.dev, { 'x-request-id': 'refused-exchange-1' });
    assert.equal(res.status, 403, res.body);
    const everything = `${JSON.stringify(res.rawHeaders)}\n${res.body}`;
    assert.ok(!everything.includes(AS_DESCRIPTION), `the idp's error_description leaked: ${everything}`);
    assert.equal(exChecker.seen.length, from, 'nothing reached the upstream');
    assert.equal((await counters()).exchangeErrors - c0.exchangeErrors, 1, 'the idp was asked and refused');

    // The same caller again: answered from the remembered refusal.
    const again = await post('/refused', tokens.dev, { 'x-request-id': 'refused-exchange-2' });
    assert.equal(again.status, 403, again.body);
    assert.equal(again.body, res.body);
    const c2 = await counters();
    assert.equal(c2.exchangeErrors - c0.exchangeErrors, 1, 'the second refused request did not reach the idp');
    assert.equal(c2.exchange, c0.exchange, 'no exchange was issued');
    assert.equal(exChecker.seen.length, from, 'nothing reached the upstream');

    // The caller's token was valid: the log says the exchange was refused, not the caller.
    for (const id of ['refused-exchange-1', 'refused-exchange-2']) {
      const line = await accessLine(id);
      assert.equal(line.status, 403, JSON.stringify(line));
      assert.equal(line.auth, 'allow', JSON.stringify(line));
      assert.equal(line.auth_reason, null, JSON.stringify(line));
      assert.equal(line.upstream_error, 'token: token_exchange invalid_target', JSON.stringify(line));
    }
  });

  // The injected field is Authorization, which carries the client's own
  // token: the client's one field is replaced (the tests above), and a second
  // one makes the request ambiguous, refused before any upstream is asked.
  test('client copies of Authorization never reach the upstream', async () => {
    const from = exChecker.seen.length;
    const fromCc = ccChecker.seen.length;
    for (const path of ['/exchange', '/cc']) {
      for (const fields of [
        [`Bearer ${tokens.dev}`, 'Bearer forged-by-client'],
        ['Bearer forged-by-client', `Bearer ${tokens.dev}`],
      ]) {
        const res = await post(path, tokens.dev, { authorization: fields });
        assert.ok([400, 401].includes(res.status), `${path}: two Authorization fields → ${res.status} ${res.body}`);
      }
    }
    assert.equal(exChecker.seen.length, from, 'nothing reached the exchange upstream');
    assert.equal(ccChecker.seen.length, fromCc, 'nothing reached the client credentials upstream');
    const forged = sha256('forged-by-client');
    assert.ok(![...exChecker.seen, ...ccChecker.seen].some((r) => r.tokenSha256.includes(forged)), 'a client-sent Authorization reached an upstream');
  });

  test('no upstream token, client token or client secret in the output or /config_dump', async () => {
    const res = await fetch(`${adminOrigin}/config_dump`);
    assert.equal(res.status, 200);
    const dump = await res.text();
    assert.ok(dump.includes('[redacted]'), `client secrets shown as [redacted]:\n${dump}`);
    assert.ok(dump.includes('gw-post.secret'), 'the secret file is named');
    const upstreamHashes = new Set([...ccChecker.seen, ...exChecker.seen].flatMap((r) => r.tokenSha256));
    assert.ok(upstreamHashes.size >= 5, `upstream tokens were seen: ${upstreamHashes.size}`);
    for (const [label, text] of [
      ['stderr', gateway.stderr],
      ['stdout', gateway.stdout],
      ['/config_dump', dump],
    ]) {
      for (const secret of [BASIC_SECRET, POST_SECRET, ...Object.values(tokens)]) {
        assert.ok(!text.includes(secret), `${label} contains a secret or a client token`);
      }
      for (const jwt of text.match(/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g) ?? []) {
        assert.ok(!upstreamHashes.has(sha256(jwt)), `${label} contains an upstream token`);
      }
      assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(text), `${label} contains a JWT`);
    }
  });

  test('the idp down: a new user → 503 with a JSON-RPC error; a cached user still gets through', async () => {
    await idp.proc.stop();
    const res = await post('/exchange', tokens.frank);
    assert.equal(res.status, 503, res.body);
    assert.match(String(res.headers['content-type']), /application\/json/);
    const body = JSON.parse(res.body);
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(typeof body.error?.code, 'number', res.body);
    assert.equal(typeof body.error?.message, 'string', res.body);

    const cached = await post('/exchange', tokens.dev);
    assert.equal(cached.status, 200, cached.body);
  });
});
