// Requests without a (valid) token: the 401 challenge (RFC 6750 + RFC 9728),
// the protected-resource metadata it points to, bad-token rejections, the
// SDK client's reaction, and CORS for browser clients.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { startMockAuthorizationServer } from './lib/mock_as.mjs';
import { MCP_POST_HEADERS, headerList, httpRequest, initializeBody } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const BROWSER_ORIGIN = 'http://localhost:6274'; // MCP Inspector

// Every member must carry a value: RFC 9728 §3.2 says omit zero values.
function findEmptyMembers(value, path = '$') {
  if (value === null) return [path];
  if (Array.isArray(value)) {
    if (value.length === 0) return [path];
    return value.flatMap((v, i) => findEmptyMembers(v, `${path}[${i}]`));
  }
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => findEmptyMembers(v, `${path}.${k}`));
  return [];
}

function challengeParam(header, name) {
  const m = new RegExp(`(?:^Bearer |,\\s*)${name}="([^"]*)"`).exec(header ?? '');
  return m ? m[1] : undefined;
}

describe('without a valid token', () => {
  let tmp;
  let as;
  let upstream;
  let gateway;
  let key;
  let otherKey;
  let prmUrl;

  before(async () => {
    tmp = await makeTempDir();
    as = await startMockAuthorizationServer();
    upstream = await startEchoUpstream();
    key = await generateSigningKey('it-key-1');
    otherKey = await generateSigningKey('it-key-other');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    // Relative on purpose: jwks_file resolves against the config's directory.
    gateway = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer: as.issuer, jwksFile: 'jwks.json' });
    prmUrl = `${gateway.origin}/.well-known/oauth-protected-resource/mcp`;
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await as?.close();
    await removeTempDir(tmp);
  });

  const unauthenticatedRequests = {
    POST: { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() },
    GET: { method: 'GET', headers: { accept: 'text/event-stream' } },
    DELETE: { method: 'DELETE', headers: { 'mcp-session-id': 'some-session' } },
  };
  for (const [method, init] of Object.entries(unauthenticatedRequests)) {
    test(`${method} /mcp without a token → 401 with a Bearer challenge pointing at the metadata`, withLogs(async () => {
      const seenBefore = upstream.requests.length;
      const res = await fetch(gateway.url, init);
      await res.arrayBuffer();
      assert.equal(res.status, 401, `${method} without a token`);
      const challenge = res.headers.get('www-authenticate');
      assert.ok(challenge?.startsWith('Bearer '), `WWW-Authenticate starts with "Bearer ": ${challenge}`);
      const metadataUrl = challengeParam(challenge, 'resource_metadata');
      assert.ok(metadataUrl, `resource_metadata="…" in ${challenge}`);
      assert.equal(new URL(metadataUrl).href, metadataUrl, 'resource_metadata is an absolute URL');
      assert.equal(metadataUrl, prmUrl, 'resource_metadata is the path-inserted metadata URL of /mcp');
      // What the SDK client itself extracts from the header:
      const parsed = extractWWWAuthenticateParams(res);
      assert.equal(parsed.resourceMetadataUrl?.href, prmUrl, 'the SDK parser finds the metadata URL');
      assert.equal(upstream.requests.length, seenBefore, 'the upstream never sees an unauthenticated request');
    }));
  }

  test('the resource_metadata URL serves the protected-resource metadata without a token', withLogs(async () => {
    const res = await fetch(prmUrl, { headers: { origin: BROWSER_ORIGIN, 'mcp-protocol-version': '2025-06-18' } });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const doc = JSON.parse(text);
    assert.equal(typeof doc, 'object');
    assert.equal(doc.resource, gateway.resource, 'resource is byte-equal to the configured resource');
    assert.deepEqual(doc.authorization_servers, [as.issuer]);
    assert.deepEqual(doc.bearer_methods_supported, ['header']);
    assert.deepEqual(findEmptyMembers(doc), [], `no null or empty members in ${text}`);
  }));

  test('the root /.well-known/oauth-protected-resource serves the same resource', withLogs(async () => {
    const res = await fetch(`${gateway.origin}/.well-known/oauth-protected-resource`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
    const doc = JSON.parse(text);
    assert.equal(doc.resource, gateway.resource);
    assert.deepEqual(doc.authorization_servers, [as.issuer]);
  }));

  test('control: a valid token reaches the upstream', withLogs(async () => {
    const token = await mintToken(key, { iss: as.issuer, aud: gateway.resource });
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
      body: initializeBody(),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `valid token: ${text} ${res.headers.get('www-authenticate')}`);
    assert.equal(upstream.last().method, 'POST');
  }));

  const badTokens = {
    'garbage': async () => 'not-a-jwt',
    'three garbage segments': async () => 'abc.def.ghi',
    'expired an hour ago': () => mintToken(key, { iss: as.issuer, aud: gateway.resource, issuedAgo: 7200, expiresIn: 3600 }),
    'wrong audience': () => mintToken(key, { iss: as.issuer, aud: 'http://127.0.0.1:1/other-mcp' }),
    'wrong issuer': () => mintToken(key, { iss: 'https://other-issuer.example', aud: gateway.resource }),
    'signed by another key (unknown kid)': () => mintToken(otherKey, { iss: as.issuer, aud: gateway.resource }),
    'signed by another key under the known kid': () =>
      mintToken(otherKey, { iss: as.issuer, aud: gateway.resource, kid: key.kid }),
  };
  for (const [name, makeToken] of Object.entries(badTokens)) {
    test(`bad token (${name}) → 401 invalid_token with a description`, withLogs(async () => {
      const token = await makeToken();
      const seenBefore = upstream.requests.length;
      const res = await fetch(gateway.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
        body: initializeBody(),
      });
      const body = await res.text();
      assert.equal(res.status, 401, body);
      const challenge = res.headers.get('www-authenticate');
      assert.ok(challenge?.startsWith('Bearer '), `WWW-Authenticate: ${challenge}`);
      assert.equal(challengeParam(challenge, 'error'), 'invalid_token', `error="invalid_token" in ${challenge}`);
      assert.ok(challengeParam(challenge, 'error_description'), `a non-empty error_description in ${challenge}`);
      assert.equal(challengeParam(challenge, 'resource_metadata'), prmUrl, `resource_metadata in ${challenge}`);
      assert.equal(extractWWWAuthenticateParams(res).error, 'invalid_token', 'the SDK parser reads the error');
      assert.ok(!challenge.includes(token) && !body.includes(token), 'the token is never echoed');
      assert.equal(upstream.requests.length, seenBefore, 'the upstream never sees the request');
    }));
  }

  test('a token in the query string is not accepted (no tokens in URLs)', withLogs(async () => {
    const token = await mintToken(key, { iss: as.issuer, aud: gateway.resource });
    const seenBefore = upstream.requests.length;
    const res = await fetch(`${gateway.url}?access_token=${token}`, {
      method: 'POST',
      headers: MCP_POST_HEADERS,
      body: initializeBody(),
    });
    const body = await res.text();
    assert.equal(res.status, 401, body);
    assert.ok(!body.includes(token) && !(res.headers.get('www-authenticate') ?? '').includes(token), 'the token is never echoed');
    assert.equal(upstream.requests.length, seenBefore, 'the upstream never sees the request');
  }));

  test('SDK client without credentials: connect() fails with HTTP 401', { timeout: 15000 }, withLogs(async () => {
    const client = new Client({ name: 'integration-no-token', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(gateway.url));
    try {
      await assert.rejects(client.connect(transport), (err) => {
        // Without an auth provider, SDK 1.32.2 reports the 401 as StreamableHTTPError.
        assert.ok(err instanceof StreamableHTTPError, `StreamableHTTPError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.code, 401);
        return true;
      });
    } finally {
      await client.close();
    }
  }));

  test('SDK client with an OAuth provider: discovers the metadata through the gateway and asks to authorize', { timeout: 15000 }, withLogs(async () => {
    let authorizationUrl;
    const provider = {
      get redirectUrl() {
        return 'http://127.0.0.1:1/callback';
      },
      get clientMetadata() {
        return { client_name: 'integration', redirect_uris: ['http://127.0.0.1:1/callback'] };
      },
      clientInformation: () => ({ client_id: 'integration-client' }),
      tokens: () => undefined,
      saveTokens: () => {},
      redirectToAuthorization: (url) => {
        authorizationUrl = url;
      },
      saveCodeVerifier: () => {},
      codeVerifier: () => 'unused',
    };
    const client = new Client({ name: 'integration-oauth', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { authProvider: provider });
    try {
      await assert.rejects(client.connect(transport), (err) => {
        assert.ok(err instanceof UnauthorizedError, `UnauthorizedError, got ${err?.constructor?.name}: ${err?.stack ?? err}`);
        return true;
      });
    } finally {
      await client.close();
    }
    assert.ok(authorizationUrl, 'the SDK got as far as the authorization redirect');
    assert.equal(authorizationUrl.origin, as.issuer, 'it used the authorization server named by the metadata');
    assert.equal(authorizationUrl.searchParams.get('resource'), gateway.resource, 'RFC 8707 resource = the PRM resource');
    assert.equal(authorizationUrl.searchParams.get('client_id'), 'integration-client');
  }));

  test('CORS preflight on /mcp is answered without a token', withLogs(async () => {
    const res = await httpRequest(gateway.url, {
      method: 'OPTIONS',
      headers: {
        origin: BROWSER_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    });
    assert.ok(res.status >= 200 && res.status < 300, `preflight status ${res.status}: ${res.body}`);
    const allowOrigin = res.headers['access-control-allow-origin'];
    assert.ok(allowOrigin === '*' || allowOrigin === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${allowOrigin}`);
    const allowHeaders = headerList(res.headers['access-control-allow-headers']);
    // "*" does not cover Authorization (Fetch standard), so it must be named.
    for (const h of ['authorization', 'content-type', 'mcp-protocol-version']) {
      assert.ok(allowHeaders.includes(h), `Access-Control-Allow-Headers has ${h}: ${res.headers['access-control-allow-headers']}`);
    }
    const allowMethods = headerList(res.headers['access-control-allow-methods']);
    for (const m of ['get', 'post', 'delete']) {
      assert.ok(allowMethods.includes(m), `Access-Control-Allow-Methods has ${m}: ${res.headers['access-control-allow-methods']}`);
    }
  }));

  test('CORS preflight on the metadata URL is answered', withLogs(async () => {
    const res = await httpRequest(prmUrl, {
      method: 'OPTIONS',
      headers: {
        origin: BROWSER_ORIGIN,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'mcp-protocol-version',
      },
    });
    assert.ok(res.status >= 200 && res.status < 300, `preflight status ${res.status}: ${res.body}`);
    const allowOrigin = res.headers['access-control-allow-origin'];
    assert.ok(allowOrigin === '*' || allowOrigin === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${allowOrigin}`);
  }));

  test('a cross-origin 401 exposes WWW-Authenticate, Mcp-Session-Id and MCP-Protocol-Version', withLogs(async () => {
    const res = await httpRequest(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, origin: BROWSER_ORIGIN },
      body: initializeBody(),
    });
    assert.equal(res.status, 401);
    const allowOrigin = res.headers['access-control-allow-origin'];
    assert.ok(allowOrigin === '*' || allowOrigin === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${allowOrigin}`);
    const exposed = headerList(res.headers['access-control-expose-headers']);
    for (const h of ['www-authenticate', 'mcp-session-id', 'mcp-protocol-version']) {
      assert.ok(exposed.includes(h), `Access-Control-Expose-Headers has ${h}: ${res.headers['access-control-expose-headers']}`);
    }
  }));
});
