// `mcp-auth-gateway doctor`: the discovery chain a client walks,
// against the oidc-provider dev IdP with a running gateway (good: exit 0),
// and against a mock AS that gets things wrong (wrong issuer, no S256, no
// registration, JWKS down, resource/port mismatch: findings, exit 1).
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDevIdp } from './lib/dev_idp.mjs';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { freePort } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';

const doctor = (configPath, json = true) =>
  runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', configPath, ...(json ? ['--json'] : [])], {
    timeoutMs: 60000,
  });

const findings = (r, severity) => JSON.parse(r.stdout).findings.filter((f) => f.severity === severity);
const checks = (r, severity) => findings(r, severity).map((f) => f.check);

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
    const { config } = gatewayConfig({ port, upstreamUrl: upstream.origin, issuer: idp.issuer, jwksFile: 'unused' });
    delete config.providers.test.jwks_file;
    config.providers.test.jwks_uri = idp.jwksUri;
    config.admin = { address: '' };
    const configPath = await writeConfig(tmp, config, 'good.yaml');
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);

    const r = await doctor(configPath);
    assert.equal(r.code, 0, `doctor failed:\n${r.stdout}\n${r.stderr}`);
    const ok = checks(r, 'ok');
    for (const c of ['resource.path', 'prm.path_inserted', 'prm.root', 'as.metadata', 'as.issuer', 'as.pkce', 'as.registration', 'jwks.fetch']) {
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

  test('usage errors exit 2', async () => {
    const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['doctor', '--config', join(tmp, 'missing.yaml')]);
    assert.equal(r.code, 2);
  });
});
