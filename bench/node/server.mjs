// The Node peer of bench/run: an MCP server with the `add` tool written the way
// the official TypeScript SDK documents it (Streamable HTTP, stateless, JSON
// responses), protected by the SDK's requireBearerAuth with a jose verifier
// against the same JWKS the gateway uses.
//   BENCH_PORT, BENCH_JWKS (file), BENCH_ISSUER
import { readFileSync } from 'node:fs';
import express from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

const port = Number(process.env.BENCH_PORT);
const gatewayPort = Number(process.env.BENCH_GATEWAY_PORT || 18084);
const issuer = process.env.BENCH_ISSUER;
const audience = `http://127.0.0.1:${port}/mcp`;
const jwks = createLocalJWKSet(JSON.parse(readFileSync(process.env.BENCH_JWKS, 'utf8')));

const verifier = {
  async verifyAccessToken(token) {
    try {
      // The bench tokens carry the gateway's audience; accept it too so the
      // same token works for every peer.
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: [audience, audience.replace(`:${port}/`, `:${gatewayPort}/`)],
        algorithms: ['RS256', 'ES256'],
      });
      return {
        token,
        clientId: String(payload.client_id ?? ''),
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
        expiresAt: payload.exp,
      };
    } catch (error) {
      throw new InvalidTokenError(`invalid token: ${error.code ?? 'error'}`);
    }
  },
};

function makeServer() {
  const server = new McpServer({ name: 'bench-node-add', version: '1.0.0' });
  server.registerTool(
    'add',
    {
      description: 'Add two numbers',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { a: z.number(), b: z.number(), result: z.number() },
    },
    async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
      structuredContent: { a, b, result: a + b },
    }),
  );
  return server;
}

const app = express();
app.use(express.json());
app.post('/mcp', requireBearerAuth({ verifier }), async (req, res) => {
  const server = makeServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.get('/', (_req, res) => res.status(404).end());
app.listen(port, '127.0.0.1');
