// A typical MCP server of the TypeScript SDK, as its documentation sets one
// up: `createMcpExpressApp()` (express with `express.json()`, which honours
// the request's charset and Content-Encoding) and a stateless
// StreamableHTTPServerTransport answering JSON. Two tools, `echo` and
// `secret`; every tool that really runs is recorded in `calls`, every
// request that reaches the HTTP server in `requests`.
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export async function startExpressMcpUpstream({ paths = ['/mcp'] } = {}) {
  const calls = []; // { tool, path }
  const requests = []; // { method, url, headers }
  const app = createMcpExpressApp();
  const handle = async (req, res) => {
    const server = new McpServer({ name: 'express-upstream', version: '1.0.0' });
    const tool = (name) => async () => {
      calls.push({ tool: name, path: req.path });
      return { content: [{ type: 'text', text: `${name} ran` }] };
    };
    server.registerTool('echo', { description: 'anyone may call it' }, tool('echo'));
    server.registerTool('secret', { description: 'needs tools:secret' }, tool('secret'));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
  for (const path of paths) app.post(path, handle);
  const http = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
  });
  http.on('request', (req) => requests.push({ method: req.method, url: req.url, headers: req.headers }));
  const { port } = http.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    calls,
    requests,
    async close() {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    },
  };
}
