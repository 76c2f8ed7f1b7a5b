// Seeded mutations of corpus cases for differential.test.mjs. One seed gives
// one sequence of cases (MAG_DIFF_SEED reproduces a run).
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { utf16be, utf16le, utf7, utf7imap } from './corpus.mjs';

// mulberry32: a small seeded PRNG; next() in [0, 1).
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

const CHARSETS = ['utf-7', 'UTF-7', 'utf-7-imap', 'utf7', 'utf-16', 'utf-16le', 'utf-16be', 'latin1', 'iso-8859-1',
  'utf-8', 'UTF-8', 'us-ascii', 'cp1252', 'utf-32', 'x-unknown', '"utf-7"', 'utf-8;charset=utf-7'];
const MEDIA_TYPES = ['application/json', 'Application/JSON', 'application/json-rpc', 'text/json', 'application/vnd.a+json'];
const NAMES = ['secret', 'add', 'tools/call', 'logging/setLevel'];
const SPOOF_HEADERS = [['X_MCP_Subject', 'mallory'], ['X-MCP-Subject', 'mallory'], ['x-mcp_subject', 'mallory'],
  ['Mcp-Session-Id', '{{other}}'], ['Mcp_Session_Id', '{{other}}'], ['Mcp-Session-Id', '{{own}}, {{other}}'],
  ['Mcp-Method', 'tools/call'], ['Mcp-Name', 'secret'], ['MCP-Protocol-Version', '2025-03-26']];
const ENCODINGS = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

const randomCase = (r, name) => [...name].map((c) => (r.next() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');

function spliceBody(body, at, removeCount, insert) {
  return Buffer.concat([body.subarray(0, at), Buffer.from(insert), body.subarray(at + removeCount)]);
}

// Each operator takes (r, c) and changes the case c in place.
const OPERATORS = {
  flipByte(r, c) {
    if (c.body.length === 0) return;
    const at = r.int(c.body.length);
    c.body = Buffer.from(c.body);
    c.body[at] ^= 1 << r.int(8);
  },
  insertByte(r, c) {
    c.body = spliceBody(c.body, r.int(c.body.length + 1), 0, [r.pick([0x00, 0x2b, 0x26, 0x2d, 0x5c, 0x22, 0xc0, 0xef, 0xff, r.int(256)])]);
  },
  deleteByte(r, c) {
    if (c.body.length > 0) c.body = spliceBody(c.body, r.int(c.body.length), 1, []);
  },
  // A forbidden name spelled in UTF-7 / UTF-7-IMAP / a \u escape, where the
  // body already names something (so the result stays JSON).
  respell(r, c) {
    const text = c.body.toString('latin1');
    const name = r.pick(NAMES.filter((n) => text.includes(`"${n}"`)).concat(['echo'].filter((n) => text.includes(`"${n}"`))));
    if (!name) return;
    const target = name === 'echo' ? r.pick(['secret', 'add']) : name;
    const spelled = r.pick([utf7(target), utf7imap(target), target.replace(/e|a|\//, (ch) => `\\u00${ch.charCodeAt(0).toString(16)}`), target]);
    c.body = Buffer.from(text.replace(`"${name}"`, `"${spelled}"`), 'latin1');
  },
  charset(r, c) {
    c.contentType = `${r.pick(MEDIA_TYPES)}; charset=${r.pick(CHARSETS)}`;
  },
  mediaType(r, c) {
    c.contentType = r.pick([...MEDIA_TYPES, null]);
  },
  reencode(r, c) {
    const text = c.body.toString('utf8');
    const [charset, bytes] = r.pick([
      ['utf-16le', utf16le(text)], ['utf-16le', utf16le(text, true)], ['utf-16be', utf16be(text)],
      ['utf-16', utf16be(text, true)], ['utf-16', utf16le(text, true)],
    ]);
    c.body = bytes;
    if (r.next() < 0.8) c.contentType = `application/json; charset=${charset}`;
  },
  compress(r, c) {
    const name = r.pick(Object.keys(ENCODINGS));
    c.body = ENCODINGS[name](c.body);
    c.headers.push(['Content-Encoding', r.next() < 0.8 ? name : randomCase(r, name)]);
  },
  headerCase(r, c) {
    if (c.headers.length === 0) return;
    const i = r.int(c.headers.length);
    c.headers[i] = [randomCase(r, c.headers[i][0]), c.headers[i][1]];
  },
  duplicateHeader(r, c) {
    const all = c.contentType ? [...c.headers, ['Content-Type', c.contentType]] : c.headers;
    if (all.length === 0) return;
    const [name, value] = r.pick(all);
    c.headers.push([r.next() < 0.5 ? name : randomCase(r, name), value]);
  },
  spoofHeader(r, c) {
    c.headers.push(r.pick(SPOOF_HEADERS));
  },
  chunked(r, c) {
    c.chunked = !c.chunked;
  },
  httpMethod(r, c) {
    c.method = r.pick(['POST', 'POST', 'GET', 'DELETE', 'PUT']);
  },
};
const OPERATOR_NAMES = Object.keys(OPERATORS);

// A mutated copy of a random corpus case, named after its origin and the
// operators applied.
export function mutateCase(r, corpus) {
  const base = r.pick(corpus);
  const c = {
    ...base,
    method: base.method ?? 'POST',
    contentType: base.contentType === undefined ? 'application/json' : base.contentType,
    headers: [...(base.headers ?? [])],
    body: Buffer.from(base.body ?? ''),
    chunked: base.chunked ?? false,
  };
  const applied = [];
  const count = 1 + r.int(3);
  for (let i = 0; i < count; i++) {
    const op = r.pick(OPERATOR_NAMES);
    OPERATORS[op](r, c);
    applied.push(op);
  }
  c.h2 = !c.chunked && base.h2 !== false;
  c.name = `${base.name}~${applied.join('+')}`;
  c.cls = 'mutated';
  return c;
}
