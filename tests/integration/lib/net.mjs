// Loopback networking helpers: free ports and a raw HTTP/1.1 request that
// lets tests send exactly the headers they want (fetch forbids hop-by-hop ones).
import http from 'node:http';
import net from 'node:net';

// Binds 127.0.0.1:0, reads the port the kernel chose, and releases it. Another
// process could grab it in between; on loopback in a test run that is rare.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// One request on a fresh connection (agent: false: nothing lingers after the
// test). Resolves with status, headers (lower-case names), rawHeaders, body text.
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Parses a comma-separated header list ("a, B ,c") into lower-case names.
export function headerList(value) {
  if (value === undefined) return [];
  return String(value)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

// A JSON-RPC initialize request body as MCP clients send it.
export function initializeBody(id = 1) {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'integration-test', version: '1.0.0' },
    },
  });
}

export const MCP_POST_HEADERS = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});
