// The official TypeScript SDK client with a bearer token, as a user's MCP
// client talks to the gateway, and the add tool of mcp-add-server as the
// tests that reach it through the gateway check it.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

// A connected (initialized) client; close it when done.
export async function connectWithBearer(url, token, name) {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

// tools/list is exactly [add] and add(2, 3) answers 5; the client is closed.
export async function assertAddOnly(client) {
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['add']);
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
  } finally {
    await client.close();
  }
}
