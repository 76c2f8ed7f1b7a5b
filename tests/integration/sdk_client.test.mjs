// The official TypeScript SDK client talks to mcp-add-server through the
// gateway with a dev token (from `mcp-auth-gateway dev-token`): connect,
// list tools, call add(2, 3). Once with the backend answering JSON, once with
// it answering SSE. A baseline run against the backend directly tells a
// gateway failure apart from a backend failure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBackend } from './lib/backend.mjs';
import { DEV_JWKS, DEV_PRIVATE_KEY, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir, startGateway } from './lib/gateway.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { devToken } from './lib/tokens.mjs';

const ISSUER = 'https://dev-issuer.example';

// Connects, lists tools, calls add(2, 3), and checks every part of the answer.
async function exerciseAddTool(url, headers) {
  const client = new Client({ name: 'integration-sdk-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  try {
    await client.connect(transport);

    const { tools } = await client.listTools();
    const add = tools.find((tool) => tool.name === 'add');
    assert.ok(add, `tools/list contains add: ${JSON.stringify(tools)}`);
    assert.equal(add.inputSchema.type, 'object');
    assert.ok(add.inputSchema.properties?.a, `inputSchema has a: ${JSON.stringify(add.inputSchema)}`);
    assert.ok(add.inputSchema.properties?.b, `inputSchema has b: ${JSON.stringify(add.inputSchema)}`);
    assert.equal(add.inputSchema.properties.a.type, 'number');
    assert.equal(add.inputSchema.properties.b.type, 'number');

    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    assert.notEqual(result.isError, true, `add(2,3) is not an error: ${JSON.stringify(result)}`);
    assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
    assert.equal(result.structuredContent?.a, 2);
    assert.equal(result.structuredContent?.b, 3);
    assert.ok(
      result.content.some((c) => c.type === 'text' && c.text === '5'),
      `a text content "5": ${JSON.stringify(result.content)}`,
    );
  } finally {
    await client.close();
  }
}

for (const sse of [false, true]) {
  describe(`SDK client, backend in ${sse ? 'SSE' : 'JSON'} mode`, () => {
    let tmp;
    let backend;
    let gateway;
    before(async () => {
      tmp = await makeTempDir();
      backend = await startBackend({ sse });
    });
    after(async () => {
      await stopAll();
      await removeTempDir(tmp);
    });

    test('baseline: directly against mcp-add-server', { timeout: 20000 }, withLogs(async () => {
      await exerciseAddTool(backend.url, {});
    }));

    test('through mcp-auth-gateway with a dev token', { timeout: 30000 }, withLogs(async () => {
      gateway = await startGateway({
        dir: tmp,
        upstreamUrl: backend.origin,
        issuer: ISSUER,
        jwksFile: requireFile(DEV_JWKS, 'dev JWKS'),
      });
      const token = await devToken({ keyFile: requireFile(DEV_PRIVATE_KEY, 'dev signing key'), iss: ISSUER, aud: gateway.resource });
      await exerciseAddTool(gateway.url, { Authorization: `Bearer ${token}` });
    }));
  });
}
