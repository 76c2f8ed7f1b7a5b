// The upstream is down: the gateway answers 502 with a JSON body and keeps
// serving; once the backend comes up on that port, requests succeed again
// without restarting the gateway.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { MCP_POST_HEADERS, freePort, httpRequest, initializeBody } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.failure.example';

describe('upstream failure', () => {
  let tmp;
  let backendPort;
  let gateway;
  let token;

  before(async () => {
    tmp = await makeTempDir();
    backendPort = await freePort(); // nothing listens here yet
    const key = await generateSigningKey('fail-key');
    const jwksFile = join(tmp, 'jwks.json');
    await writeJwks(jwksFile, [key]);
    gateway = await startGateway({ dir: tmp, upstreamUrl: `http://127.0.0.1:${backendPort}`, issuer: ISSUER, jwksFile });
    token = await mintToken(key, { iss: ISSUER, aud: gateway.resource });
  });
  after(async () => {
    await stopAll();
    await removeTempDir(tmp);
  });

  const initialize = () =>
    httpRequest(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
      body: initializeBody(),
      timeoutMs: 8000,
    });

  test('backend not running → 502 with a JSON body, gateway stays up', { timeout: 20000 }, withLogs(async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await initialize();
      assert.equal(res.status, 502, `attempt ${attempt}: ${res.body}`);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      const body = JSON.parse(res.body);
      assert.equal(typeof body, 'object', res.body);
      assert.ok(body !== null && Object.keys(body).length > 0, `a non-empty JSON object: ${res.body}`);
      assert.ok(!res.body.includes(token), 'the token is not echoed');
    }
    assert.ok(gateway.proc.running, 'the gateway is still running');
  }));

  test('backend started on that port → 200 again, no gateway restart', { timeout: 20000 }, withLogs(async (t) => {
    await startBackend({ port: backendPort });
    // The first request after the backend is up should succeed; allow a short
    // grace period in case the gateway backs off after a failed connect.
    const deadline = Date.now() + 2000;
    let res;
    let attempts = 0;
    for (;;) {
      attempts++;
      res = await initialize();
      if (res.status === 200 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`succeeded after ${attempts} attempt(s)`);
    assert.equal(res.status, 200, `after ${attempts} attempts: ${res.status} ${res.body}`);
    const text = res.headers['content-type']?.startsWith('text/event-stream')
      ? res.body.split('\n').find((l) => l.startsWith('data: '))?.slice(6)
      : res.body;
    const reply = JSON.parse(text);
    assert.equal(reply.jsonrpc, '2.0');
    assert.ok(reply.result?.protocolVersion, `an InitializeResult: ${res.body}`);
    assert.ok(gateway.proc.running, 'the same gateway process served it');
  }));
});
