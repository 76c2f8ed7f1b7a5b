// Sends one case of differential.test.mjs to the gateway, over HTTP/1.1 as
// exact bytes (repeated headers, odd names, chunked bodies as written) or
// over h2c with node:http2. Returns { status } (0: no HTTP answer) and the
// bytes or header list sent, for the failure message.
import http2 from 'node:http2';
import { rawExchange } from '../lib/raw_upstream.mjs';

// The header lines of a case for one principal: the gateway-facing basics,
// then the case's own headers in order, placeholders filled.
export function caseHeaders(c, { port, token, requestId, fill }) {
  const list = [
    ['Host', `127.0.0.1:${port}`],
    ['X-Request-Id', requestId],
    ['Accept', 'application/json, text/event-stream'],
  ];
  if (token) list.push(['Authorization', `Bearer ${token}`]);
  if (c.contentType !== null && c.contentType !== undefined) list.push(['Content-Type', c.contentType]);
  for (const [name, value] of c.headers ?? []) list.push([name, fill(value)]);
  return list;
}

function chunkedBody(body) {
  // Two chunks (when there are two bytes), so the split falls inside the JSON.
  const half = Math.floor(body.length / 2);
  const parts = [body.subarray(0, half), body.subarray(half)].filter((p) => p.length > 0);
  const framed = parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]);
  return Buffer.concat([...framed, Buffer.from('0\r\n\r\n')]);
}

export function http1Bytes(c, path, headerList) {
  const body = c.body ?? Buffer.alloc(0);
  const lines = [`${c.method} ${path} HTTP/1.1`, ...headerList.map(([n, v]) => `${n}: ${v}`), 'Connection: close'];
  let payload = body;
  if (c.chunked) {
    lines.push('Transfer-Encoding: chunked');
    payload = chunkedBody(body);
  } else if (body.length > 0 || c.method === 'POST') {
    lines.push(`Content-Length: ${body.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

// Writes the bytes on a fresh connection and reads until the gateway closes
// it (Connection: close). The write side stays open: a client that half-closes
// is one that gave up, and the gateway treats it so (499).
export async function sendHttp1(port, bytes, timeoutMs = 8000) {
  const { statuses } = await rawExchange(port, bytes, { waitMs: timeoutMs });
  return { status: statuses[0] ?? 0 };
}

// One h2c session to the gateway, reopened when it fails or the gateway ends it.
export class H2Pool {
  constructor(origin) {
    this.origin = origin;
    this.session = undefined;
  }

  #get() {
    if (!this.session || this.session.closed || this.session.destroyed) {
      const session = http2.connect(this.origin);
      session.on('error', () => {});
      session.on('goaway', () => session.close());
      this.session = session;
    }
    return this.session;
  }

  // Header names lower-case, repeated names as arrays (node refuses to send
  // repeats of its single-value fields: that answers { status: 0, refused }).
  send(c, path, headerList, timeoutMs = 8000) {
    const headers = { ':method': c.method, ':path': path };
    for (const [rawName, value] of headerList) {
      const name = rawName.toLowerCase();
      if (name === 'host') continue; // :authority
      if (headers[name] === undefined) headers[name] = value;
      else headers[name] = [].concat(headers[name], value);
    }
    const body = c.body ?? Buffer.alloc(0);
    if (body.length > 0 || c.method === 'POST') headers['content-length'] = String(body.length);
    return new Promise((resolve) => {
      let req;
      try {
        req = this.#get().request(headers);
      } catch (err) {
        resolve({ status: 0, refused: `node:http2 will not send it: ${err.code ?? err.message}` });
        return;
      }
      let status = 0;
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
      req.on('response', (h) => (status = h[':status']));
      req.on('data', () => {});
      req.on('error', () => {});
      req.on('close', () => {
        clearTimeout(timer);
        resolve({ status });
      });
      req.end(body);
    });
  }

  close() {
    this.session?.destroy();
  }
}
