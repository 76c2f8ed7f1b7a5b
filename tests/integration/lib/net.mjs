// Loopback networking helpers: free ports and a raw HTTP/1.1 request that
// lets tests send exactly the headers they want (fetch forbids hop-by-hop ones).
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

// Ports already handed out in this process: the kernel may give the same
// free port to two bind(0) calls in a row, and a test that asks for two
// ports (a listener and an admin listener) must get two.
const handedOut = new Set();

function bindAndRelease() {
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

// Binds 127.0.0.1:0, reads the port the kernel chose, and releases it. Another
// process could grab it in between; on loopback in a test run that is rare.
export async function freePort() {
  for (let attempt = 0; attempt < 100; ++attempt) {
    const port = await bindAndRelease();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the kernel kept offering ports this process already handed out');
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

// The same over HTTP/2 without TLS (h2c, prior knowledge), on its own
// session. Resolves with status, headers (lower-case names) and body text.
export function h2Request(origin, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin);
    const fail = (err) => {
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const req = session.request({ ':method': method, ':path': path, ...headers });
    req.setTimeout(timeoutMs, () => fail(new Error(`h2 ${method} ${path}: no response within ${timeoutMs} ms`)));
    let head;
    const chunks = [];
    req.on('response', (h) => (head = h));
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', fail);
    req.end(body);
  });
}

// Opens a GET event stream over h2c; resolves once the head is in, with a
// promise `ended` that settles when the stream ends: complete is true only
// for a clean END_STREAM, false for a reset.
export function h2OpenStream(origin, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin);
    session.on('error', () => {});
    const req = session.request({ ':method': 'GET', ':path': path, accept: 'text/event-stream', ...headers });
    let cleanEnd = false;
    const ended = new Promise((done) => {
      req.on('end', () => (cleanEnd = true));
      req.on('close', () => done({ complete: cleanEnd && req.rstCode === http2.constants.NGHTTP2_NO_ERROR, rstCode: req.rstCode, at: Date.now() }));
    });
    req.on('data', () => {});
    req.on('error', () => {});
    req.on('response', (h) =>
      resolve({ status: h[':status'], ended, openedAt: Date.now(), destroy: () => session.destroy() }),
    );
    session.once('error', reject);
    req.once('error', reject);
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
