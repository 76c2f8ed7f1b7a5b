// A raw-TCP upstream for hostile and fault tests: it records the exact bytes
// the gateway sends on every connection and answers according to a mode.
// Framing of what it receives is read just enough to know where a request
// ends (Content-Length or chunked up to the last chunk); anything it cannot
// read that way stays in the recording, which is what the tests assert on.
import net from 'node:net';

const OK_BODY = '{"jsonrpc":"2.0","id":1,"result":{}}';

// Returns the byte length of the first complete request in `buf`, or 0.
export function completeRequestLength(buf) {
  const text = buf.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return 0;
  const head = text.slice(0, headEnd);
  const bodyStart = headEnd + 4;
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    const end = text.indexOf('\r\n0\r\n', bodyStart - 2);
    if (end < 0) return 0;
    const trailerEnd = text.indexOf('\r\n\r\n', end + 2);
    return trailerEnd < 0 ? 0 : trailerEnd + 4;
  }
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const len = cl ? Number(cl[1]) : 0;
  return buf.length >= bodyStart + len ? bodyStart + len : 0;
}

// modes: 'ok' (200 JSON per request), 'reset-before-headers', 'reset-mid-body',
// 'malformed' (a response with CR in a header value and CL+TE), 'sse-then-reset'
// (two SSE events, then RST), 'sse-forever' (an event every 100 ms until the
// peer closes), 'close-after-response' (answers, then closes the keep-alive
// connection right away), 'hang' (reads, never answers), 'huge-head' (a
// response head with 10 000 header fields, ~200 KiB), or a function
// (sock, conn) that writes the answer itself.
export async function startRawUpstream(initialMode = 'ok') {
  const state = {
    mode: initialMode,
    connections: [], // { chunks: Buffer[], closedAt: number|undefined, requests: number }
    get bytes() {
      return Buffer.concat(this.connections.flatMap((c) => c.chunks));
    },
    get requestCount() {
      return this.connections.reduce((n, c) => n + c.requests, 0);
    },
  };
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const conn = { chunks: [], closedAt: undefined, requests: 0, pending: Buffer.alloc(0), timers: [] };
    state.connections.push(conn);
    sock.on('close', () => {
      conn.closedAt = Date.now();
      conn.timers.forEach(clearInterval);
      sockets.delete(sock);
    });
    sock.on('error', () => {});
    sock.on('data', (d) => {
      conn.chunks.push(d);
      conn.pending = Buffer.concat([conn.pending, d]);
      for (;;) {
        const n = completeRequestLength(conn.pending);
        if (n === 0) break;
        conn.pending = conn.pending.subarray(n);
        conn.requests++;
        answer(state.mode, sock, conn);
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    state,
    port,
    origin: `http://127.0.0.1:${port}`,
    setMode(m) {
      state.mode = m;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function answer(mode, sock, conn) {
  // A function writes its own bytes: any framing a test needs.
  if (typeof mode === 'function') {
    mode(sock, conn);
    return;
  }
  switch (mode) {
    case 'ok':
    case 'close-after-response':
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${OK_BODY.length}\r\n\r\n${OK_BODY}`);
      if (mode === 'close-after-response') sock.end();
      return;
    case 'reset-before-headers':
      sock.resetAndDestroy();
      return;
    case 'reset-mid-body':
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"partial":');
      setTimeout(() => sock.resetAndDestroy(), 50);
      return;
    case 'malformed':
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-Split: a\rb\r\n\r\n0\r\n\r\n');
      return;
    case 'sse-then-reset':
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
      sock.write(chunk('data: one\n\n'));
      setTimeout(() => {
        sock.write(chunk('data: two\n\n'));
        setTimeout(() => sock.resetAndDestroy(), 50);
      }, 50);
      return;
    case 'sse-forever': {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
      let i = 0;
      conn.timers.push(
        setInterval(() => {
          if (!sock.destroyed) sock.write(chunk(`data: ${i++}\n\n`));
        }, 100),
      );
      return;
    }
    case 'huge-head': {
      const fields = Array.from({ length: 10000 }, (_, i) => `X-H${i}: ${'v'.repeat(8)}\r\n`).join('');
      sock.write(`HTTP/1.1 200 OK\r\n${fields}Content-Type: application/json\r\nContent-Length: ${OK_BODY.length}\r\n\r\n${OK_BODY}`);
      return;
    }
    case 'hang':
    default:
  }
}

function chunk(text) {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

// Sends raw bytes on a fresh connection; resolves when the gateway closes the
// connection or after `waitMs`, with everything it answered. `writes` may be a
// list of { data, delayMs } to send in pieces.
// `untilFinal`: also resolve (100 ms later) once one complete final (non-1xx)
// response with a Content-Length has arrived, for connections kept alive.
export function rawExchange(port, writes, { waitMs = 3000, endAfterMatch, untilFinal = false } = {}) {
  const parts = Array.isArray(writes) ? writes : [{ data: writes }];
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const started = Date.now();
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({
        text,
        closed,
        elapsedMs: Date.now() - started,
        statuses: [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])),
      });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('data', (d) => {
      chunks.push(d);
      const sofar = Buffer.concat(chunks).toString('latin1');
      if (endAfterMatch && endAfterMatch.test(sofar)) finish();
      if (untilFinal && hasFinalResponse(sofar)) setTimeout(finish, 100);
    });
    sock.on('end', () => {
      closed = true;
      finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', (e) => {
      // The gateway may close while we are still writing a refused request.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') {
        closed = true;
        finish();
      } else reject(e);
    });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (p.delayMs) await new Promise((r) => setTimeout(r, p.delayMs));
        if (sock.destroyed) return;
        sock.write(typeof p.data === 'string' ? Buffer.from(p.data, 'latin1') : p.data);
      }
    });
  });
}

function hasFinalResponse(text) {
  const re = /HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/g;
  let m;
  while ((m = re.exec(text))) {
    if (m[1].startsWith('1')) continue;
    const cl = /(?:^|\r\n)content-length:\s*(\d+)/i.exec(m[2]);
    if (!cl) return false;
    return text.length - re.lastIndex >= Number(cl[1]);
  }
  return false;
}
