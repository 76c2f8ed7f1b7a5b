// A small HTTP/1.1 forwarding hop for tests, written with node:http. It passes
// every request to `target` and streams the response back as it arrives (SSE
// event by event, no buffering), changing nothing but:
//   - hop-by-hop headers (RFC 9110 §7.6.1), which belong to each connection;
//   - the headers in `setHeaders`, added to (or replacing those of) every
//     request — e.g. `Authorization: Bearer …` in front of a protected route,
//     for clients such as the conformance suite that cannot send headers;
//   - Host, only with `rewriteHost`: then the target's authority, as a direct
//     client of the target would send it (otherwise the client's Host is kept,
//     so Host-based checks behind the hop see what the client sent).
// It records every request (method, url, headers as forwarded on) and every
// response head (status, headers), so a test can assert what crossed it.
import http from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Header names that must not cross the hop: the fixed set plus any the
// sender listed in its Connection header.
function hopByHop(headers) {
  const names = new Set(HOP_BY_HOP);
  for (const token of String(headers.connection ?? '').split(',')) {
    if (token.trim() !== '') names.add(token.trim().toLowerCase());
  }
  return names;
}

// rawHeaders ([name, value, name, value, …]) without the hop-by-hop ones;
// keeps repeated headers (Set-Cookie) and the sender's order.
function endToEnd(rawHeaders, drop) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!drop.has(rawHeaders[i].toLowerCase())) out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}

export async function startForwardingProxy({ target, setHeaders = {}, rewriteHost = false }) {
  const targetUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const requests = [];
  const responses = [];
  const replace = new Set(Object.keys(setHeaders).map((k) => k.toLowerCase()));

  const server = http.createServer((req, res) => {
    const drop = hopByHop(req.headers);
    for (const name of replace) drop.add(name);
    if (rewriteHost) drop.add('host');
    const raw = endToEnd(req.rawHeaders, drop);
    for (const [name, value] of Object.entries(setHeaders)) raw.push(name, value);
    if (rewriteHost) raw.push('Host', targetUrl.host);
    const forwarded = {};
    for (let i = 0; i < raw.length; i += 2) forwarded[raw[i].toLowerCase()] = raw[i + 1];
    requests.push({ method: req.method, url: req.url, headers: forwarded });

    const upstream = http.request({
      host: targetUrl.hostname,
      port: targetUrl.port,
      method: req.method,
      path: req.url,
      headers: raw,
      agent,
      // Host comes from `raw`; node must not add its own.
      setHost: false,
    });
    upstream.on('response', (up) => {
      responses.push({ status: up.statusCode, headers: up.headers });
      res.writeHead(up.statusCode, endToEnd(up.rawHeaders, hopByHop(up.headers)));
      // Headers now, not with the first body chunk: an SSE stream may stay quiet.
      res.flushHeaders();
      up.pipe(res);
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`forwarding proxy: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    // The client left (e.g. closed its SSE stream): end the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
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
    responses,
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
