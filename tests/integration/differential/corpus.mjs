// The corpus of differential.test.mjs: requests that one HTTP/JSON reader may
// read differently from another. Each case is sent as the test's principals
// to every reader's routes; the mutator (mutate.mjs) derives more from them.
//
// A case: { name, cls, method = 'POST', contentType = 'application/json'
// (null: no Content-Type), headers: [[name, value]] (extra, in order; may
// repeat a name), body: string | Buffer, chunked = false (HTTP/1.1
// Transfer-Encoding: chunked), h2 = true (also sent over h2c) }.
// Header values may use placeholders that the sender fills in per principal:
// {{own}} (a session this principal initialized on this route), {{other}}
// (another principal's session on this route).
//
// The gateway's rules in the test: tools {add: [math:add], secret: deny},
// methods {logging/setLevel: deny}; the principals hold mcp:access only (or nothing).
// So `add`, `secret` and `logging/setLevel` must never reach a reader as what it
// executes, however they are spelled.
import { deflateSync, gzipSync, brotliCompressSync } from 'node:zlib';

export const json = (value) => JSON.stringify(value);
export const rpc = (method, params, id = 1) => json(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
export const call = (name, id = 1) => rpc('tools/call', { name, arguments: {} }, id);

// UTF-7 (RFC 2152): a run of characters as "+" base64(UTF-16BE) "-"; the
// IMAP variant (RFC 3501 §5.1.3) uses "&" and "," instead of "+" and "/".
export function utf7(text) {
  return `+${Buffer.from(text, 'utf16le').swap16().toString('base64').replace(/=+$/, '')}-`;
}
export function utf7imap(text) {
  return `&${Buffer.from(text, 'utf16le').swap16().toString('base64').replace(/=+$/, '').replaceAll('/', ',')}-`;
}
export const utf16le = (text, bom = false) => Buffer.concat([Buffer.from(bom ? [0xff, 0xfe] : []), Buffer.from(text, 'utf16le')]);
export const utf16be = (text, bom = false) => Buffer.concat([Buffer.from(bom ? [0xfe, 0xff] : []), Buffer.from(text, 'utf16le').swap16()]);

const SECRET = call('secret');
const ADD = call('add');
const ECHO = call('echo');
const withCharset = (charset) => `application/json; charset=${charset}`;
// The bytes of `text` with `needle` replaced by raw bytes (invalid or
// overlong UTF-8 that JSON.stringify cannot produce).
const bytesWith = (text, needle, bytes) => {
  const [a, b] = text.split(needle);
  return Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b)]);
};

export const CORPUS = [
  // Baselines: an unruled tool reaches every reader; add/secret/admin never do.
  { name: 'baseline-echo', cls: 'baseline', body: ECHO },
  { name: 'baseline-add', cls: 'baseline', body: ADD },
  { name: 'baseline-secret', cls: 'baseline', body: SECRET },
  { name: 'baseline-admin', cls: 'baseline', body: rpc('logging/setLevel') },
  { name: 'baseline-initialize', cls: 'baseline', body: rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'diff', version: '1' } }) },

  // Charsets: the bypass. jansson reads UTF-8; body-parser decodes utf-7
  // (and utf-7-imap) through iconv-lite; Python decodes what is declared.
  { name: 'utf7-tool', cls: 'charset', contentType: withCharset('utf-7'), body: call(utf7('secret')) },
  { name: 'utf7-tool-add', cls: 'charset', contentType: withCharset('utf-7'), body: call(utf7('add')) },
  { name: 'utf7-method', cls: 'charset', contentType: withCharset('utf-7'), body: json({ jsonrpc: '2.0', id: 1, method: utf7('tools/call'), params: { name: 'secret' } }) },
  { name: 'utf7-method-admin', cls: 'charset', contentType: withCharset('utf-7'), body: rpc(utf7('logging/setLevel')) },
  { name: 'utf7-partial', cls: 'charset', contentType: withCharset('utf-7'), body: call(`s${utf7('ecr')}et`) },
  { name: 'utf7-quoted-upper', cls: 'charset', contentType: 'application/json; charset="UTF-7"', body: call(utf7('secret')) },
  { name: 'utf7-spaced-param', cls: 'charset', contentType: 'application/json ; Charset = utf-7', body: call(utf7('secret')) },
  { name: 'charset-twice', cls: 'charset', contentType: 'application/json; charset=utf-8; charset=utf-7', body: call(utf7('secret')) },
  { name: 'utf7-no-space', cls: 'charset', contentType: 'application/json;charset=utf-7', body: call(utf7('secret')) },
  { name: 'utf7-imap', cls: 'charset', contentType: withCharset('utf-7-imap'), body: call(utf7imap('secret')) },
  { name: 'utf7-unicode-1-1', cls: 'charset', contentType: withCharset('unicode-1-1-utf-7'), body: call(utf7('secret')) },
  { name: 'utf16le-nobom', cls: 'charset', contentType: withCharset('utf-16le'), body: utf16le(SECRET) },
  { name: 'utf16le-bom', cls: 'charset', contentType: withCharset('utf-16le'), body: utf16le(SECRET, true) },
  { name: 'utf16be-nobom', cls: 'charset', contentType: withCharset('utf-16be'), body: utf16be(SECRET) },
  { name: 'utf16be-bom', cls: 'charset', contentType: withCharset('utf-16be'), body: utf16be(SECRET, true) },
  { name: 'utf16-bom', cls: 'charset', contentType: withCharset('utf-16'), body: utf16le(SECRET, true) },
  { name: 'utf16-undeclared-bom', cls: 'charset', body: utf16le(SECRET, true) },
  { name: 'latin1', cls: 'charset', contentType: withCharset('latin1'), body: SECRET },
  { name: 'iso-8859-1', cls: 'charset', contentType: withCharset('iso-8859-1'), body: ECHO },
  { name: 'unknown-charset', cls: 'charset', contentType: withCharset('x-unknown'), body: ECHO },
  { name: 'utf8-declared', cls: 'charset', contentType: withCharset('utf-8'), body: ECHO },
  { name: 'utf32', cls: 'charset', contentType: withCharset('utf-32'), body: Buffer.from(ECHO) },

  // Media types.
  { name: 'no-content-type', cls: 'media-type', contentType: null, body: SECRET },
  { name: 'text-plain', cls: 'media-type', contentType: 'text/plain', body: SECRET },
  { name: 'json-suffix', cls: 'media-type', contentType: 'application/vnd.mcp+json', body: SECRET },
  { name: 'upper-case-type', cls: 'media-type', contentType: 'APPLICATION/JSON; CHARSET=UTF-7', body: call(utf7('secret')) },
  { name: 'two-content-types-utf7-last', cls: 'media-type', headers: [['Content-Type', withCharset('utf-7')]], body: call(utf7('secret')) },
  { name: 'two-content-types-utf7-first', cls: 'media-type', contentType: withCharset('utf-7'), headers: [['Content-Type', 'application/json']], body: call(utf7('secret')), h2: false },
  { name: 'comma-joined-content-type', cls: 'media-type', contentType: `application/json, ${withCharset('utf-7')}`, body: call(utf7('secret')) },

  // Bytes and escapes.
  { name: 'utf8-bom', cls: 'bytes', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SECRET)]) },
  { name: 'u-escape-tool', cls: 'bytes', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"s\\u0065cret"}}' },
  { name: 'u-escape-method', cls: 'bytes', body: '{"jsonrpc":"2.0","id":1,"method":"tools\\/c\\u0061ll","params":{"name":"secret"}}' },
  { name: 'nul-escape', cls: 'bytes', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret\\u0000"}}' },
  { name: 'nul-raw', cls: 'bytes', body: bytesWith(SECRET, 'secret', [0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x00]) },
  { name: 'lone-surrogate', cls: 'bytes', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800secret"}}' },
  { name: 'overlong-e', cls: 'bytes', body: bytesWith(SECRET, 'secret', [0x73, 0xc1, 0xa5, 0x63, 0x72, 0x65, 0x74]) },
  { name: 'overlong-slash', cls: 'bytes', body: bytesWith(rpc('tools/call', { name: 'secret' }), 'tools/call', [...Buffer.from('tools'), 0xc0, 0xaf, ...Buffer.from('call')]) },
  { name: 'invalid-utf8-tail', cls: 'bytes', body: bytesWith(SECRET, 'secret', [...Buffer.from('secret'), 0xff]) },

  // Duplicate keys (jansson's default and JSON.parse take the last).
  { name: 'dup-name', cls: 'duplicate-keys', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"secret"}}' },
  { name: 'dup-method', cls: 'duplicate-keys', body: '{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"secret"}}' },
  { name: 'dup-params', cls: 'duplicate-keys', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"add"}}' },
  { name: 'dup-method-admin', cls: 'duplicate-keys', body: '{"jsonrpc":"2.0","id":1,"method":"ping","method":"logging/setLevel"}' },

  // Content-Encoding: body-parser inflates, the gateway reads bytes.
  { name: 'gzip', cls: 'content-encoding', headers: [['Content-Encoding', 'gzip']], body: gzipSync(SECRET) },
  { name: 'deflate', cls: 'content-encoding', headers: [['Content-Encoding', 'deflate']], body: deflateSync(SECRET) },
  { name: 'br', cls: 'content-encoding', headers: [['Content-Encoding', 'br']], body: brotliCompressSync(SECRET) },
  { name: 'gzip-upper', cls: 'content-encoding', headers: [['Content-Encoding', 'GZIP']], body: gzipSync(ADD) },
  { name: 'identity-encoding', cls: 'content-encoding', headers: [['Content-Encoding', 'identity']], body: ECHO },
  { name: 'gzip-echo', cls: 'content-encoding', headers: [['Content-Encoding', 'gzip']], body: gzipSync(ECHO) },

  // Bodies on methods the gateway does not inspect (readers execute POST only).
  { name: 'get-body-cl', cls: 'method-body', method: 'GET', body: SECRET },
  { name: 'get-body-chunked', cls: 'method-body', method: 'GET', body: SECRET, chunked: true, h2: false },
  { name: 'delete-body-cl', cls: 'method-body', method: 'DELETE', body: ADD },
  { name: 'post-chunked-utf7', cls: 'method-body', contentType: withCharset('utf-7'), body: call(utf7('secret')), chunked: true, h2: false },

  // Batches and odd messages.
  { name: 'batch-echo-secret', cls: 'batch', body: `[${ECHO},${call('secret', 2)}]` },
  { name: 'batch-add', cls: 'batch', body: `[${ADD}]` },
  { name: 'batch-utf7', cls: 'batch', contentType: withCharset('utf-7'), body: `[${ECHO},${call(utf7('secret'), 2)}]` },
  { name: 'method-array', cls: 'non-string', body: json({ jsonrpc: '2.0', id: 1, method: ['tools/call'], params: { name: 'secret' } }) },
  { name: 'method-number', cls: 'non-string', body: json({ jsonrpc: '2.0', id: 1, method: 1 }) },
  { name: 'name-array', cls: 'non-string', body: json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: ['secret'] } }) },

  // Repeated MCP headers: the gateway must read the same copy as every reader.
  { name: 'session-own-then-other', cls: 'headers', headers: [['Mcp-Session-Id', '{{own}}'], ['Mcp-Session-Id', '{{other}}']], body: ECHO },
  { name: 'session-other-then-own', cls: 'headers', headers: [['Mcp-Session-Id', '{{other}}'], ['Mcp-Session-Id', '{{own}}']], body: ECHO },
  { name: 'session-comma-joined', cls: 'headers', headers: [['Mcp-Session-Id', '{{own}}, {{other}}']], body: ECHO },
  { name: 'session-other', cls: 'headers', headers: [['Mcp-Session-Id', '{{other}}']], body: ECHO },
  { name: 'session-other-case', cls: 'headers', headers: [['mcp-SESSION-id', '{{other}}']], body: ECHO },
  { name: 'session-underscore', cls: 'headers', headers: [['Mcp-Session-Id', '{{own}}'], ['Mcp_Session_Id', '{{other}}']], body: ECHO },
  { name: 'protocol-version-dup', cls: 'headers', headers: [['MCP-Protocol-Version', '2025-06-18'], ['MCP-Protocol-Version', '2025-03-26']], body: ECHO },
  { name: 'protocol-version-comma', cls: 'headers', headers: [['MCP-Protocol-Version', '2025-06-18, 2025-03-26']], body: ECHO },
  { name: 'mcp-method-dup', cls: 'headers', headers: [['Mcp-Method', 'tools/call'], ['Mcp-Method', 'ping']], body: ECHO },
  { name: 'mcp-name-dup', cls: 'headers', headers: [['Mcp-Method', 'tools/call'], ['Mcp-Name', 'echo'], ['Mcp-Name', 'secret']], body: ECHO },
  { name: 'mcp-name-comma', cls: 'headers', headers: [['Mcp-Method', 'tools/call'], ['Mcp-Name', 'echo, secret']], body: ECHO },

  // Identity spoofing: only the gateway's X-MCP-Subject may reach a reader.
  { name: 'spoof-subject', cls: 'identity', headers: [['X-MCP-Subject', 'mallory']], body: ECHO },
  { name: 'spoof-subject-twice', cls: 'identity', headers: [['x-mcp-subject', 'mallory'], ['X-Mcp-Subject', 'mallory']], body: ECHO },
  { name: 'spoof-subject-underscore', cls: 'identity', headers: [['X_MCP_Subject', 'mallory']], body: ECHO },
  { name: 'spoof-subject-mixed', cls: 'identity', headers: [['X-MCP_Subject', 'mallory']], body: ECHO },
  { name: 'spoof-subject-underscore-get', cls: 'identity', method: 'GET', headers: [['X_MCP_SUBJECT', 'mallory']] },
];
