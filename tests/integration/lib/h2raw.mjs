// Raw HTTP/2 for hostile tests (H2-* in docs/security.md): a frame builder,
// an HPACK encoder that writes literals (never Huffman, so a test writes
// exactly the bytes it means), and a client connection that records every
// frame the server sends. The client announces SETTINGS_HEADER_TABLE_SIZE=0,
// so the server's responses never use the dynamic table and their :status
// can be read without a full HPACK decoder (static index or a literal whose
// value is plain or Huffman-coded digits).
import net from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = Object.freeze({
  DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5,
  PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9,
});
export const F = Object.freeze({ END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 });
export const E = Object.freeze({
  NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 10, ENHANCE_YOUR_CALM: 11, INADEQUATE_SECURITY: 12, HTTP_1_1_REQUIRED: 13,
});
export const S = Object.freeze({
  HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6,
});

export function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'latin1');
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, p]);
}

export function settings(entries = [], ack = false) {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(T.SETTINGS, ack ? F.ACK : 0, 0, p);
}
export const settingsAck = () => frame(T.SETTINGS, F.ACK, 0);
export const ping = (data = Buffer.alloc(8)) => frame(T.PING, 0, 0, data);
export function rstStream(id, code = E.CANCEL) {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(T.RST_STREAM, 0, id, p);
}
export function windowUpdate(id, increment) {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(T.WINDOW_UPDATE, 0, id, p);
}
export function priority(id, dependsOn = 0, weight = 16) {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(dependsOn >>> 0);
  p[4] = weight - 1;
  return frame(T.PRIORITY, 0, id, p);
}
export function goaway(lastStreamId, code = E.NO_ERROR) {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId);
  p.writeUInt32BE(code, 4);
  return frame(T.GOAWAY, 0, 0, p);
}
export const data = (id, body, endStream = false) => frame(T.DATA, endStream ? F.END_STREAM : 0, id, body);

// --- HPACK (RFC 7541), encoder side ------------------------------------------------

export function hpackInt(value, prefixBits, firstByte = 0) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
export function hpackString(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}
// Literal header field without indexing, new name (§6.2.2).
export const literal = (name, value) => Buffer.concat([Buffer.from([0]), hpackString(name), hpackString(value)]);
// Literal with incremental indexing, new name (§6.2.1): enters the dynamic table.
export const literalIndexed = (name, value) => Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
// Indexed header field (§6.1); the dynamic table starts at 62.
export const indexed = (i) => hpackInt(i, 7, 0x80);
export const tableSizeUpdate = (n) => hpackInt(n, 5, 0x20);
export const block = (fields) => Buffer.concat(fields.map(([n, v]) => literal(n, v)));

export function headers(id, headerBlock, { endStream = false, endHeaders = true } = {}) {
  return frame(T.HEADERS, (endStream ? F.END_STREAM : 0) | (endHeaders ? F.END_HEADERS : 0), id, headerBlock);
}
export const continuation = (id, fragment, endHeaders = false) => frame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, id, fragment);

// The fields of a request to the gateway's /mcp route.
export function requestFields({ port, token, method = 'POST', path = '/mcp', extra = [] }) {
  const f = [[':method', method], [':scheme', 'http'], [':path', path], [':authority', `127.0.0.1:${port}`]];
  if (token) f.push(['authorization', `Bearer ${token}`]);
  if (method === 'POST') f.push(['content-type', 'application/json']);
  f.push(['accept', 'application/json, text/event-stream'], ...extra);
  return f;
}

// --- decoding what the server sends ------------------------------------------------

const STATIC_STATUS = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
// RFC 7541 Appendix B codes of '0'..'9' (5 bits for 0-2, 6 bits for 3-9).
const HUFFMAN_DIGITS = [['00000', '0'], ['00001', '1'], ['00010', '2'], ['011001', '3'], ['011010', '4'],
  ['011011', '5'], ['011100', '6'], ['011101', '7'], ['011110', '8'], ['011111', '9']];

function readInt(buf, pos, prefixBits) {
  const max = (1 << prefixBits) - 1;
  let v = buf[pos] & max;
  pos++;
  if (v < max) return [v, pos];
  let m = 0;
  for (;;) {
    const b = buf[pos++];
    v += (b & 127) * 2 ** m;
    m += 7;
    if ((b & 128) === 0) return [v, pos];
  }
}
function huffmanDigits(bytes) {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  while (i < bits.length) {
    const hit = HUFFMAN_DIGITS.find(([code]) => bits.startsWith(code, i));
    if (!hit) break; // the rest must be EOS padding (all ones)
    out += hit[1];
    i += hit[0].length;
  }
  return out;
}
// The :status of a response header block (the first field, after any
// dynamic table size update), or undefined.
export function responseStatus(blockBuf) {
  let pos = 0;
  while (pos < blockBuf.length && (blockBuf[pos] & 0xe0) === 0x20) [, pos] = readInt(blockBuf, pos, 5);
  if (pos >= blockBuf.length) return undefined;
  const b = blockBuf[pos];
  if (b & 0x80) return STATIC_STATUS[readInt(blockBuf, pos, 7)[0]];
  const prefix = (b & 0x40) ? 6 : 4;
  const [nameIndex, p1] = readInt(blockBuf, pos, prefix);
  if (nameIndex !== 8) return undefined;
  const huff = (blockBuf[p1] & 0x80) !== 0;
  const [len, p2] = readInt(blockBuf, p1, 7);
  const raw = blockBuf.subarray(p2, p2 + len);
  return Number(huff ? huffmanDigits(raw) : raw.toString('latin1'));
}

// --- the client connection ----------------------------------------------------------

export class H2Client {
  // Options: preface (send the connection preface + SETTINGS, default true),
  // settings (the client's SETTINGS entries), ackSettings (answer the
  // server's SETTINGS, default true), read (false: pause the socket, a peer
  // that never reads).
  static connect(port, { preface = true, settings: entries = [[S.HEADER_TABLE_SIZE, 0]], ackSettings = true, read = true } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      const c = new H2Client(sock, ackSettings);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        sock.on('error', (e) => {
          c.error = e;
        });
        if (!read) sock.pause();
        if (preface) sock.write(Buffer.concat([PREFACE, settings(entries)]));
        resolve(c);
      });
    });
  }

  constructor(sock, ackSettings) {
    this.sock = sock;
    this.ackSettings = ackSettings;
    this.frames = [];
    this.raw = Buffer.alloc(0);
    this.pending = Buffer.alloc(0);
    this.closed = false;
    this.error = undefined;
    this.statuses = new Map(); // stream id -> :status
    this.bodies = new Map(); // stream id -> bytes of DATA
    this.waiters = new Set();
    this.headerBlocks = new Map();
    sock.on('data', (d) => this.#onData(d));
    sock.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #onData(d) {
    if (this.raw.length < 4096) this.raw = Buffer.concat([this.raw, d.subarray(0, 4096)]);
    this.pending = Buffer.concat([this.pending, d]);
    while (this.pending.length >= 9) {
      const len = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + len) break;
      const f = {
        type: this.pending[3],
        flags: this.pending[4],
        streamId: this.pending.readUInt32BE(5) & 0x7fffffff,
        payload: this.pending.subarray(9, 9 + len),
      };
      this.pending = this.pending.subarray(9 + len);
      this.frames.push(f);
      this.#onFrame(f);
    }
    this.#wake();
  }

  #onFrame(f) {
    if (f.type === T.SETTINGS && !(f.flags & F.ACK) && this.ackSettings && !this.sock.destroyed) {
      this.sock.write(settingsAck());
    }
    if (f.type === T.HEADERS || f.type === T.CONTINUATION) {
      const prev = this.headerBlocks.get(f.streamId) ?? Buffer.alloc(0);
      let payload = f.payload;
      if (f.type === T.HEADERS) {
        let start = 0;
        let end = payload.length;
        if (f.flags & F.PADDED) {
          end -= payload[0];
          start = 1;
        }
        if (f.flags & F.PRIORITY) start += 5;
        payload = payload.subarray(start, end);
      }
      const blk = Buffer.concat([prev, payload]);
      if (f.flags & F.END_HEADERS) {
        this.headerBlocks.delete(f.streamId);
        if (!this.statuses.has(f.streamId)) this.statuses.set(f.streamId, responseStatus(blk));
      } else {
        this.headerBlocks.set(f.streamId, blk);
      }
    }
    if (f.type === T.DATA) this.bodies.set(f.streamId, (this.bodies.get(f.streamId) ?? 0) + f.payload.length);
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  send(buf) {
    if (this.sock.destroyed || this.sock.writableEnded) return false;
    return this.sock.write(buf);
  }

  // Writes `bufs` (an array of Buffers) respecting the socket's back-pressure,
  // stopping early when the connection is gone. Returns the count written.
  async sendAll(bufs, { batch = 64 } = {}) {
    let n = 0;
    for (let i = 0; i < bufs.length && !this.closed && !this.sock.destroyed; i += batch) {
      const ok = this.sock.write(Buffer.concat(bufs.slice(i, i + batch)));
      n += Math.min(batch, bufs.length - i);
      if (!ok) {
        await Promise.race([
          new Promise((r) => this.sock.once('drain', r)),
          this.waitFor(() => this.closed, 10000).catch(() => {}),
        ]);
      }
    }
    return n;
  }

  // Resolves when pred() is true (checked on every frame and at close);
  // rejects after timeoutMs with a description of what arrived.
  waitFor(pred, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      if (pred()) {
        resolve();
        return;
      }
      let timer;
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`condition not met within ${timeoutMs} ms; frames: ${this.describe()}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  goaway() {
    return this.frames.find((f) => f.type === T.GOAWAY);
  }
  goawayCode() {
    const g = this.goaway();
    return g ? g.payload.readUInt32BE(4) : undefined;
  }
  resets(id) {
    return this.frames.filter((f) => f.type === T.RST_STREAM && (id === undefined || f.streamId === id));
  }
  resetCode(id) {
    const r = this.resets(id)[0];
    return r ? r.payload.readUInt32BE(0) : undefined;
  }
  // The stream ended for the client: a response status, a reset, a GOAWAY
  // that excludes it, or the connection closed.
  streamOutcome(id) {
    if (this.statuses.has(id)) return { status: this.statuses.get(id) };
    const r = this.resetCode(id);
    if (r !== undefined) return { reset: r };
    const g = this.goaway();
    if (g && (g.payload.readUInt32BE(0) & 0x7fffffff) < id) return { goaway: g.payload.readUInt32BE(4) };
    if (this.closed) return { closed: true };
    return undefined;
  }
  // Ends on a GOAWAY with one of `codes` and/or the connection closing.
  async connectionError(codes, timeoutMs = 10000) {
    await this.waitFor(() => this.goaway() !== undefined || this.closed, timeoutMs);
    const code = this.goawayCode();
    if (code !== undefined && codes && !codes.includes(code)) {
      throw new Error(`GOAWAY code ${code}, want one of ${codes}; frames: ${this.describe()}`);
    }
    return code;
  }

  describe() {
    const names = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));
    const list = this.frames.slice(-20).map((f) => {
      let extra = '';
      if (f.type === T.GOAWAY) extra = ` code=${f.payload.readUInt32BE(4)}`;
      if (f.type === T.RST_STREAM) extra = ` code=${f.payload.readUInt32BE(0)}`;
      if (f.type === T.HEADERS) extra = ` status=${this.statuses.get(f.streamId)}`;
      return `${names[f.type] ?? f.type}#${f.streamId}${extra}`;
    });
    return `[${this.frames.length} frames, last: ${list.join(' ')}]${this.closed ? ' closed' : ''}`;
  }

  close() {
    this.sock.destroy();
  }
}
