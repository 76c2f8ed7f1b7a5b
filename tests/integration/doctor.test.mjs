// `mcp-auth-gateway doctor`: the discovery chain a client walks,
// against the oidc-provider dev IdP with a running gateway (good: exit 0),
// and against a mock AS that gets things wrong (wrong issuer, no S256, no
// registration, JWKS down, resource/port mismatch: findings, exit 1); the
// shipped dev config (file key: INFO, exit 0); the MCP initialize check of
// upstreams through a prefix_rewrite route, up and down; a DNS failure named
// as such; and /ready with admin.ready_checks_upstreams on and off.
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { startDevIdp } from './lib/dev_idp.mjs';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { DEV_JWKS, GATEWAY_BIN, SOURCE_DIR, requireFile } from './lib/env.mjs';
import { gatewayConfig, launchGateway, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';

const doctor = (configPath, json = true, env = {}) =>
  runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', configPath, ...(json ? ['--json'] : [])], {
    timeoutMs: 60000,
    env,
  });

const findings = (r, severity) => JSON.parse(r.stdout).findings.filter((f) => f.severity === severity);
const checks = (r, severity) => findings(r, severity).map((f) => f.check);

async function waitFor(predicate, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await predicate();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// An authorization server that gets its metadata wrong: another issuer, no
// S256, no registration path; its JWKS endpoint answers 503.
async function startBrokenAs() {
  let origin;
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer: 'https://not-the-configured-issuer.example',
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        jwks_uri: `${origin}/jwks`,
        code_challenge_methods_supported: ['plain'],
      }));
      return;
    }
    res.writeHead(path === '/jwks' ? 503 : 404, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('doctor', () => {
  let tmp;
  let upstream;
  let idp;
  let brokenAs;

  before(async () => {
    tmp = await makeTempDir();
    upstream = await startEchoUpstream();
    brokenAs = await startBrokenAs();
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await brokenAs?.close();
    await removeTempDir(tmp);
  });

  test('good setup: oidc-provider and a running gateway → exit 0, chain checked', withLogs(async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    idp = await startDevIdp({ resources: [resource] });
    const backend = await startBackend();
    const { config } = gatewayConfig({ port, upstreamUrl: backend.origin, issuer: idp.issuer, jwksFile: 'unused' });
    delete config.providers.test.jwks_file;
    config.providers.test.jwks_uri = idp.jwksUri;
    config.admin = { address: '' };
    const configPath = await writeConfig(tmp, config, 'good.yaml');
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);

    const r = await doctor(configPath);
    assert.equal(r.code, 0, `doctor failed:\n${r.stdout}\n${r.stderr}`);
    const ok = checks(r, 'ok');
    for (const c of ['resource.path', 'prm.path_inserted', 'prm.root', 'as.metadata', 'as.issuer', 'as.pkce', 'as.registration', 'jwks.fetch', 'upstream.mcp']) {
      assert.ok(ok.includes(c), `expected ok ${c}; got:\n${r.stdout}`);
    }
    assert.deepEqual(findings(r, 'error'), []);

    const text = await doctor(configPath, false);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /summary: 0 error\(s\)/);
  }));

  test('misconfigured: wrong issuer, no S256, JWKS down, resource port mismatch → findings, exit 1', withLogs(async () => {
    const port = await freePort();
    const { config } = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: brokenAs.origin, jwksFile: 'unused' });
    delete config.providers.test.jwks_file;
    config.providers.test.jwks_uri = `${brokenAs.origin}/jwks`;
    config.providers.test.audiences = ['asgardeo-style-client-id'];
    config.routes[0].resource = `http://127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}/mcp/`;
    const configPath = await writeConfig(tmp, config, 'bad.yaml');

    const r = await doctor(configPath);
    assert.equal(r.code, 1, `doctor should fail:\n${r.stdout}\n${r.stderr}`);
    const errors = checks(r, 'error');
    for (const c of ['as.issuer', 'as.pkce', 'jwks.fetch']) assert.ok(errors.includes(c), `expected error ${c}:\n${r.stdout}`);
    const warnings = checks(r, 'warning');
    for (const c of ['as.registration', 'audience', 'resource.port', 'resource.trailing_slash']) {
      assert.ok(warnings.includes(c), `expected warning ${c}:\n${r.stdout}`);
    }
    const issuerFinding = findings(r, 'error').find((f) => f.check === 'as.issuer');
    assert.match(issuerFinding.message, /not-the-configured-issuer/);
  }));

  test('the shipped dev config: the file key is INFO, the upstream is checked, exit 0', withLogs(async () => {
    const backend = await startBackend();
    const devConfig = join(SOURCE_DIR, 'config', 'dev.yaml');
    const port = await freePort();
    const env = {
      BACKEND_URL: backend.origin,
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      RESOURCE_URL: `http://localhost:${port}/mcp`,
    };
    const r = await doctor(devConfig, true, env);
    assert.equal(r.code, 0, `doctor failed on config/dev.yaml:\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(findings(r, 'error'), []);
    const fileKey = findings(r, 'info').find((f) => f.check === 'as.file_key');
    assert.ok(fileKey, `no as.file_key INFO:\n${r.stdout}`);
    assert.match(fileKey.message, /interactive OAuth clients cannot log in with a dev key; use `mcp-auth-gateway dev-token`/);
    const upstreamOk = findings(r, 'ok').find((f) => f.check === 'upstream.mcp');
    assert.ok(upstreamOk, `no upstream.mcp ok:\n${r.stdout}`);
    assert.match(upstreamOk.message, new RegExp(`${backend.origin}/mcp: MCP server mcp-add-server \\S+, protocol `));

    const text = await doctor(devConfig, false, env);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /INFO {4}as\.file_key: provider dev: /);
  }));

  test('upstream through prefix_rewrite: up with its name and version, down as connect refused', withLogs(async () => {
    const backend = await startBackend();  // serves /mcp
    const downPort = await freePort();
    const config = {
      listeners: [{ address: `127.0.0.1:${await freePort()}` }],
      admin: { address: '' },
      upstreams: {
        up: { url: backend.origin },
        down: { url: `http://127.0.0.1:${downPort}` },
      },
      routes: [
        { path_prefix: '/other', prefix_rewrite: '/mcp', upstream: 'up', auth: 'none' },
        { path_prefix: '/gone', prefix_rewrite: '/mcp', upstream: 'down', auth: 'none' },
      ],
    };
    const configPath = await writeConfig(tmp, config, 'upstreams.yaml');
    const r = await doctor(configPath);
    assert.equal(r.code, 1, `the down upstream is an error:\n${r.stdout}\n${r.stderr}`);
    const up = findings(r, 'ok').find((f) => f.check === 'upstream.mcp');
    assert.ok(up, r.stdout);
    assert.equal(up.route, '/other');
    assert.match(up.message, new RegExp(`^upstream up at ${backend.origin}/mcp: MCP server mcp-add-server \\d+\\.\\d+\\.\\d+, protocol 2025-06-18$`));
    const down = findings(r, 'error').filter((f) => f.check === 'upstream.mcp');
    assert.equal(down.length, 1, r.stdout);
    assert.equal(down[0].route, '/gone');
    assert.match(down[0].message, new RegExp(`^upstream down at http://127\\.0\\.0\\.1:${downPort}/mcp: connect failed: .*refused`, 'i'));
  }));

  test('an issuer whose host does not resolve is reported as a DNS failure naming the host', withLogs(async () => {
    const port = await freePort();
    const backend = await startBackend();
    const { config } = gatewayConfig({ port, upstreamUrl: backend.origin, issuer: 'https://idp.mcp-auth-gateway.invalid', jwksFile: 'unused' });
    delete config.providers.test.jwks_file;
    config.providers.test.jwks_uri = 'https://idp.mcp-auth-gateway.invalid/jwks';
    config.admin = { address: '' };
    const configPath = await writeConfig(tmp, config, 'dns.yaml');
    const r = await doctor(configPath);
    assert.equal(r.code, 1, r.stdout);
    const metadata = findings(r, 'error').find((f) => f.check === 'as.metadata');
    assert.ok(metadata, r.stdout);
    assert.match(metadata.message, /DNS failure: cannot resolve host 'idp\.mcp-auth-gateway\.invalid'/);
    assert.doesNotMatch(metadata.message, /TLS/);
    const jwks = findings(r, 'error').find((f) => f.check === 'jwks.fetch');
    assert.match(jwks.message, /DNS failure: cannot resolve host 'idp\.mcp-auth-gateway\.invalid'/);
  }));

  test('/ready with ready_checks_upstreams: 503 naming the upstream while it is down, 200 once it is up', withLogs(async () => {
    const backendPort = await freePort();
    const adminPort = await freePort();
    const { config } = gatewayConfig({ port: await freePort(), upstreamUrl: `http://127.0.0.1:${backendPort}`, issuer: 'https://issuer.doctor.example', jwksFile: DEV_JWKS });
    config.admin = { address: `127.0.0.1:${adminPort}`, ready_checks_upstreams: true };
    await launchGateway(tmp, config, 'ready-on.yaml', 'gateway ready_checks_upstreams');
    const ready = () => httpRequest(`http://127.0.0.1:${adminPort}/ready`);

    let last;
    await waitFor(async () => {
      last = await ready();
      const body = JSON.parse(last.body);
      return (last.status === 503 && body.upstreams?.backend?.endpoints?.length === 1) || body;
    }, 'a 503 after the first probe round');
    const down = JSON.parse(last.body);
    assert.deepEqual(down.upstreams_down, ['backend']);
    assert.equal(down.upstreams.backend.ready, false);
    assert.match(down.upstreams.backend.endpoints[0].reason, /refused/i);
    assert.equal(down.providers.test.ready, true, 'only the upstream keeps it unready');

    await startBackend({ port: backendPort });
    await waitFor(async () => {
      last = await ready();
      return last.status === 200 || last.body;
    }, '/ready 200 once the upstream is up');
    const up = JSON.parse(last.body);
    assert.deepEqual(up.upstreams_down, []);
    assert.equal(up.upstreams.backend.ready, true);
  }));

  test('/ready without ready_checks_upstreams: 200 with the upstream down', withLogs(async () => {
    const adminPort = await freePort();
    const { config } = gatewayConfig({ port: await freePort(), upstreamUrl: `http://127.0.0.1:${await freePort()}`, issuer: 'https://issuer.doctor.example', jwksFile: DEV_JWKS });
    config.admin = { address: `127.0.0.1:${adminPort}`, ready_checks_upstreams: false };
    await launchGateway(tmp, config, 'ready-off.yaml', 'gateway without upstream checks');
    // Longer than a probe round would take: the answer must not change.
    for (let i = 0; i < 3; ++i) {
      const r = await httpRequest(`http://127.0.0.1:${adminPort}/ready`);
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).upstreams, undefined);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }));

  test('usage errors exit 2', async () => {
    const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', join(tmp, 'missing.yaml')]);
    assert.equal(r.code, 2);
  });
});
