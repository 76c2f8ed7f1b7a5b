// An upstream written in node that records every request (method, url,
// headers, body) and answers with whatever the current handler does. The
// default handler answers 200 with a small JSON body.
import http from 'node:http';

function defaultHandler(req, res) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { echo: true } }));
}

export async function startEchoUpstream() {
  const requests = [];
  let handler = defaultHandler;
  const waiters = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers, // lower-case names; repeated headers joined by node
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        remoteAddress: req.socket.remoteAddress,
      };
      requests.push(record);
      for (const w of waiters.splice(0)) w();
      try {
        handler(req, res, record);
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    setHandler(fn) {
      handler = fn ?? defaultHandler;
    },
    last() {
      return requests[requests.length - 1];
    },
    // Resolves when at least `count` requests have been recorded.
    async waitForRequests(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`upstream saw ${requests.length} requests, expected ${count}`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, deadline - Date.now());
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
