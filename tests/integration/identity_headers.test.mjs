// claim_to_headers (JWT-CLM-16, H1-55; docs/authorization.md "Identity to
// the upstream"): a real recording upstream behind the gateway, over HTTP/1.1
// and h2c. Asserts exactly which identity headers the upstream received:
// the verified claims rendered by type, nothing for a claim with CR LF, never
// the token, and never what the client sent under a configured claim header
// name (nor spoofed forwarding fields), on the protected and on a public route.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { scrapeSamples, sampleDelta } from './lib/metrics.mjs';
import { freePort, h2Request, httpRequest, initializeBody, MCP_POST_HEADERS } from './lib/net.mjs';
import { startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.identity-headers.example';
const b64url = (text) => Buffer.from(text, 'utf8').toString('base64url');

// What a client tries to pass off as the gateway's: every configured claim
// header (in odd case, twice for one), and the usual forwarding fields.
const SPOOFED = {
  'X-Auth-Subject': 'mallory',
  'x-auth-roles': 'admin',
  'X-AUTH-ADMIN': 'true',
  'x-auth-bad': 'forged',
  'X-JWT-Payload': b64url('{"sub":"mallory"}'),
  'X-Forwarded-For': '6.6.6.6',
  'X-Real-IP': '6.6.6.6',
  Forwarded: 'for=6.6.6.6',
};
const IDENTITY_NAMES = ['x-auth-subject', 'x-auth-scope', 'x-auth-roles', 'x-auth-admin', 'x-auth-level', 'x-auth-bad', 'x-jwt-payload'];

// The identity-related fields of one recorded upstream request: name → every value.
function identityFields(record) {
  const seen = {};
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    const name = record.rawHeaders[i].toLowerCase();
    if (IDENTITY_NAMES.includes(name) || ['x-forwarded-for', 'x-real-ip', 'forwarded', 'authorization', 'x-admin'].includes(name)) {
      (seen[name] ??= []).push(record.rawHeaders[i + 1]);
    }
  }
  return seen;
}

describe('claim_to_headers: what the upstream receives', () => {
  let tmp;
  let upstream;
  let gateway;
  let adminPort;
  let key;
  let resource;

  before(async () => {
    tmp = await makeTempDir('mag-identity-');
    upstream = await startEchoUpstream();
    key = await generateSigningKey('identity-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    const port = await freePort();
    adminPort = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      providers: { test: { issuer: ISSUER, jwks_file: 'jwks.json', algorithms: ['RS256'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [
        {
          path_prefix: '/mcp',
          upstream: 'backend',
          resource,
          auth: { providers: ['test'] },
          claim_to_headers: {
            sub: 'X-Auth-Subject',
            scope: 'X-Auth-Scope',
            roles: 'X-Auth-Roles',
            admin: 'X-Auth-Admin',
            level: 'X-Auth-Level',
            bad: 'X-Auth-Bad',
          },
          forward_payload_header: 'X-JWT-Payload',
        },
        // Public, on the same upstream, maps nothing: still strips /mcp's names.
        { path_prefix: '/open', upstream: 'backend', auth: 'none' },
      ],
    });
    const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
    gateway = { proc, origin: `http://127.0.0.1:${port}` };
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  const token = (claims, sub = 'alice') =>
    mintToken(key, { iss: ISSUER, aud: resource, sub, scope: 'mcp:access tools:read', claims });

  // One POST /mcp with the spoofed headers, over `protocol`; returns the upstream's record.
  async function forward(protocol, bearer, path = '/mcp') {
    const headers = { ...MCP_POST_HEADERS, ...SPOOFED };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const before = upstream.requests.length;
    const res =
      protocol === 'h2'
        ? await h2Request(gateway.origin, { method: 'POST', path, headers: lowerCase(headers), body: initializeBody() })
        : await httpRequest(`${gateway.origin}${path}`, { method: 'POST', headers, body: initializeBody() });
    assert.equal(res.status, 200, res.body);
    await upstream.waitForRequests(before + 1);
    return upstream.requests[before];
  }

  for (const protocol of ['http/1.1', 'h2']) {
    test(`${protocol}: verified claims replace the client's copies; the token never goes upstream`, withLogs(async () => {
      const bearer = await token({ roles: ['reader', 'writer'], admin: false, level: 3, bad: 'x\r\nX-Admin: yes' });
      const record = await forward(protocol, bearer);
      const payload = bearer.split('.')[1];
      assert.deepEqual(identityFields(record), {
        'x-auth-subject': ['alice'],
        'x-auth-scope': ['mcp:access tools:read'],
        'x-auth-roles': [b64url('["reader","writer"]')],
        'x-auth-admin': ['false'],
        'x-auth-level': ['3'],
        // x-auth-bad: the claim holds CR LF, so no header at all (and no X-Admin).
        'x-jwt-payload': [payload],
        'x-forwarded-for': ['127.0.0.1'],
      });
      const wire = record.rawHeaders.join('\n');
      assert.ok(!wire.includes(bearer.split('.')[2]), 'the signature is nowhere in the upstream request');
      assert.ok(!/mallory|6\.6\.6\.6|forged/.test(wire), `nothing the client spoofed:\n${wire}`);
    }));

    test(`${protocol}: a public route strips every configured identity header too`, withLogs(async () => {
      const record = await forward(protocol, undefined, '/open');
      assert.deepEqual(identityFields(record), { 'x-forwarded-for': ['127.0.0.1'] });
    }));
  }

  test('an omitted claim header is counted by route, claim and reason, without the value', withLogs(async () => {
    const series = 'mag_claim_headers_omitted_total{route="/mcp",claim="bad",reason="control_character"}';
    const admin = `http://127.0.0.1:${adminPort}`;
    const before = await scrapeSamples(admin);
    const record = await forward('http/1.1', await token({ bad: 'secret-value\u0007' }));
    assert.equal(identityFields(record)['x-auth-bad'], undefined);
    assert.equal(sampleDelta(before, await scrapeSamples(admin), series), 1);
    assert.match(gateway.proc.stderr, /claim 'bad' not sent as X-Auth-Bad on route \/mcp: control_character/);
    assert.ok(!gateway.proc.stderr.includes('secret-value'), 'the claim value is not logged');
  }));

  test('JWT-CLM-16: a claim with NUL never gets that far: the token is refused as malformed, nothing is forwarded', withLogs(async () => {
    const before = upstream.requests.length;
    const res = await httpRequest(`${gateway.origin}/mcp`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${await token({ bad: 'nul\u0000byte' })}` },
      body: initializeBody(),
    });
    assert.equal(res.status, 401, res.body);
    assert.match(res.headers['www-authenticate'], /invalid_token/);
    assert.equal(upstream.requests.length, before);
  }));
});

function lowerCase(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
