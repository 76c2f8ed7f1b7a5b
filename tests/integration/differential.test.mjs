// Differential test of the gateway's authorization against four real
// upstream readers (differential/readers.mjs: express.json(), node:http +
// JSON.parse, Python wsgiref + json, jansson + evhttp). The same requests —
// the corpus of known reader disagreements (differential/corpus.mjs) and
// seeded mutations of it (differential/mutate.mjs) — go through the gateway
// over HTTP/1.1 and h2c, as a token holding only mcp:access and without a
// token, to a scoped and an allow_missing route per reader. Every reader
// records what it read, keyed by the X-Request-Id the gateway forwards; the
// oracle (differential/oracle.mjs) recomputes from the config whether that
// principal may have that reader execute that method and tool, and checks
// that the reader saw no identity and no session the gateway would not give
// that principal. Any disagreement fails with the case, the reader, what it
// saw and the raw request.
//
// MAG_DIFF_SEED=<n> repeats a run's mutations; MAG_DIFF_SECONDS bounds the
// mutation phase (default 20). Python (/usr/bin/python3) and the jansson
// reader (MAG_JANSSON_READER_BIN, CMake target diff_jansson_reader) are
// required: without them the test fails and says which is missing.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CORPUS } from './differential/corpus.mjs';
import { mutateCase, prng } from './differential/mutate.mjs';
import { ANONYMOUS, routeAuth, violations } from './differential/oracle.mjs';
import { startExpressReader, startJanssonReader, startNodeReader, startPythonReader } from './differential/readers.mjs';
import { caseHeaders, H2Pool, http1Bytes, sendHttp1 } from './differential/send.mjs';
import { JANSSON_READER_BIN } from './lib/env.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { freePort, httpRequest, initializeBody, MCP_POST_HEADERS } from './lib/net.mjs';
import { stopAll, withLogs } from './lib/processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './lib/tokens.mjs';

const ISSUER = 'https://issuer.differential.example';
const AUDIENCE = 'mcp-differential';
const SEED = process.env.MAG_DIFF_SEED !== undefined ? Number(process.env.MAG_DIFF_SEED) >>> 0 : randomInt(2 ** 31);
const MUTATION_SECONDS = Number(process.env.MAG_DIFF_SECONDS ?? 20);
const CONCURRENCY = 8;
const MAX_REPORTED = 40;

const ALICE = Object.freeze({ name: 'alice', sub: 'alice', scopes: ['mcp:access'] });
const BOB = Object.freeze({ name: 'bob', sub: 'bob', scopes: ['mcp:access'] });
// Who sends each case to each reader: [route kind, principal].
const SENDERS = [['scoped', ALICE], ['open', ANONYMOUS], ['open', ALICE]];

// A request for the failure message: the text with escapes, then the body in hex.
function describeRequest(bytesOrHeaders, body) {
  const text = Buffer.isBuffer(bytesOrHeaders)
    ? bytesOrHeaders.toString('latin1').replace(/Bearer [A-Za-z0-9._-]+/g, 'Bearer <token>')
    : JSON.stringify(bytesOrHeaders.map(([n, v]) => [n, /^authorization$/i.test(n) ? '<token>' : v]));
  const escaped = JSON.stringify(text.length > 1200 ? `${text.slice(0, 1200)}…` : text);
  return `${escaped}\n      body hex: ${body.subarray(0, 256).toString('hex')}${body.length > 256 ? '…' : ''}`;
}

describe('differential: no reader runs what the gateway did not authorize', () => {
  let tmp;
  let readers; // name -> reader
  let gateway; // { port, origin }
  let h2;
  const tokens = new Map(); // principal name -> token
  const sessions = new Map(); // `${reader}/${kind}/${principal}` -> session id
  const owners = new Map(); // session id -> principal name
  const sent = new Map(); // X-Request-Id -> what was sent
  let nextId = 0;

  before(async () => {
    tmp = await makeTempDir('mag-diff-');
    // The two out-of-process readers first: a missing one fails the file with the reason.
    const python = await startPythonReader();
    const jansson = await startJanssonReader(JANSSON_READER_BIN);
    readers = { express: await startExpressReader(), node: await startNodeReader(), python, jansson };

    const key = await generateSigningKey('diff-key');
    await writeJwks(join(tmp, 'jwks.json'), [key]);
    const port = await freePort();
    const adminPort = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const routes = [];
    for (const name of Object.keys(readers)) {
      for (const kind of ['scoped', 'open']) {
        routes.push({
          path_prefix: `/${name}/${kind}`,
          upstream: name,
          resource: `${origin}/${name}/${kind}`,
          auth: routeAuth(kind),
          claim_to_headers: { sub: 'X-MCP-Subject' },
        });
      }
    }
    await launchGateway(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      admin: { address: `127.0.0.1:${adminPort}` },
      providers: { test: { issuer: ISSUER, jwks_file: 'jwks.json', audiences: [AUDIENCE], algorithms: ['RS256'] } },
      upstreams: Object.fromEntries(Object.entries(readers).map(([name, r]) => [name, { url: r.origin }])),
      routes,
    });
    gateway = { port, origin };
    h2 = new H2Pool(origin);
    for (const p of [ALICE, BOB]) {
      tokens.set(p.name, await mintToken(key, { iss: ISSUER, aud: AUDIENCE, sub: p.sub, scope: p.scopes.join(' ') }));
    }
    // A session per principal, route and reader, initialized through the gateway.
    for (const name of Object.keys(readers)) {
      for (const [kind, principal] of [['scoped', ALICE], ['scoped', BOB], ['open', ALICE], ['open', BOB], ['open', ANONYMOUS]]) {
        const headers = { ...MCP_POST_HEADERS, 'x-request-id': `mint-${name}-${kind}-${principal.name}` };
        if (principal !== ANONYMOUS) headers.authorization = `Bearer ${tokens.get(principal.name)}`;
        const res = await httpRequest(`${origin}/${name}/${kind}`, { method: 'POST', headers, body: initializeBody() });
        const id = res.headers['mcp-session-id'];
        assert.equal(res.status, 200, `initialize as ${principal.name} on /${name}/${kind}: ${res.status} ${res.body}`);
        assert.ok(id, `initialize as ${principal.name} on /${name}/${kind}: no Mcp-Session-Id`);
        sessions.set(`${name}/${kind}/${principal.name}`, id);
        owners.set(id, principal.name);
      }
    }
    console.log(`differential: seed ${SEED} (MAG_DIFF_SEED=${SEED} repeats the mutations), mutation phase ${MUTATION_SECONDS} s`);
  });

  after(async () => {
    h2?.close();
    await Promise.all(Object.values(readers ?? {}).map((r) => r.close()));
    await stopAll();
    await removeTempDir(tmp);
  });

  // Sends one case to one reader as one principal over one protocol and
  // remembers it under a fresh X-Request-Id.
  async function sendOne(c, readerName, kind, principal, protocol) {
    const requestId = `d-${++nextId}`;
    const path = `/${readerName}/${kind}`;
    const other = principal === ALICE ? BOB : ALICE;
    const fill = (v) =>
      v.replaceAll('{{own}}', sessions.get(`${readerName}/${kind}/${principal.name}`))
        .replaceAll('{{other}}', sessions.get(`${readerName}/${kind}/${other.name}`));
    const token = principal === ANONYMOUS ? undefined : tokens.get(principal.name);
    const headerList = caseHeaders(c, { port: gateway.port, token, requestId, fill });
    const entry = { c, reader: readerName, kind, principal, protocol, status: 0 };
    sent.set(requestId, entry);
    if (protocol === 'h1') {
      const bytes = http1Bytes(c, path, headerList);
      entry.raw = () => describeRequest(bytes, c.body ?? Buffer.alloc(0));
      Object.assign(entry, await sendHttp1(gateway.port, bytes));
    } else {
      entry.raw = () => `h2 ${c.method} ${path} ${describeRequest(headerList, c.body ?? Buffer.alloc(0))}`;
      Object.assign(entry, await h2.send(c, path, headerList));
    }
    return entry;
  }

  function* expand(c) {
    const full = { method: 'POST', contentType: 'application/json', headers: [], body: Buffer.alloc(0), chunked: false, ...c };
    full.body = Buffer.from(full.body ?? '');
    for (const readerName of Object.keys(readers)) {
      for (const [kind, principal] of SENDERS) {
        yield [full, readerName, kind, principal, 'h1'];
        if (full.h2 !== false && !full.chunked) yield [full, readerName, kind, principal, 'h2'];
      }
    }
  }

  async function runPool(jobs) {
    const iterator = jobs[Symbol.iterator]();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let next = iterator.next(); !next.done; next = iterator.next()) await sendOne(...next.value);
      }),
    );
  }

  // Waits until every reader has written its record of every request it
  // answered: a marker request sent to each reader directly, after all
  // gateway exchanges ended, is recorded after them.
  async function flushReaders() {
    for (const r of Object.values(readers)) {
      const id = `flush-${++nextId}`;
      await new Promise((resolve, reject) => {
        http.get(`${r.origin}/flush`, { headers: { 'x-request-id': id }, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
      const deadline = Date.now() + 5000;
      while (!r.records.some((rec) => rec.requestId === id)) {
        if (Date.now() > deadline) throw new Error(`${r.name} reader did not record ${id}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }

  // Judges the records of requests `d-<first>` onwards; returns the report.
  function judge(firstId) {
    const stats = { sent: 0, forwarded: 0, status: {}, perReader: {}, clientRefused: 0, nonPostBodies: 0, unanswered: new Set() };
    const problems = [];
    const failedCases = new Map();
    const seenIds = new Set();
    for (const r of Object.values(readers)) {
      for (const rec of r.records) {
        const id = rec.requestId;
        if (typeof id === 'string' && (id.startsWith('mint-') || id.startsWith('flush-'))) continue;
        const entry = typeof id === 'string' ? sent.get(id) : undefined;
        const num = typeof id === 'string' ? Number(id.slice(2)) : NaN;
        if (entry && num < firstId) continue;
        if (!entry) {
          if (!rec.judgedUnattributed) problems.push({ text: `${r.name} reader saw a request the test did not send (X-Request-Id ${JSON.stringify(id)}): ${JSON.stringify(rec)}` });
          rec.judgedUnattributed = true;
          continue;
        }
        seenIds.add(id);
        if (entry.reader !== r.name) problems.push({ text: `${id} for ${entry.reader} reached ${r.name}` });
        if (rec.httpMethod !== 'POST' && (rec.bodyBytes > 0 || rec.messages?.some((m) => typeof m.method === 'string'))) stats.nonPostBodies++;
        for (const v of violations(rec, entry, owners)) {
          failedCases.set(entry.c.name, (failedCases.get(entry.c.name) ?? 0) + 1);
          problems.push({
            kase: entry.c.name,
            text: `case ${entry.c.name} (${entry.c.cls}) over ${entry.protocol} to ${r.name} as ${entry.principal.name} on /${r.name}/${entry.kind}` +
              ` (gateway answered ${entry.status}): ${v}\n      reader record: ${JSON.stringify(rec)}\n      request: ${entry.raw()}`,
          });
        }
      }
    }
    for (const [id, entry] of sent) {
      if (Number(id.slice(2)) < firstId) continue;
      stats.sent++;
      const per = (stats.perReader[entry.reader] ??= { sent: 0, forwarded: 0, status: {} });
      per.sent++;
      if (entry.refused) stats.clientRefused++;
      if (seenIds.has(id)) {
        stats.forwarded++;
        per.forwarded++;
      } else {
        const s = entry.refused ? 'not sent' : String(entry.status);
        if (!entry.refused && entry.status === 0) stats.unanswered.add(`${entry.c.name}/${entry.protocol}`);
        stats.status[s] = (stats.status[s] ?? 0) + 1;
        per.status[s] = (per.status[s] ?? 0) + 1;
      }
    }
    return { stats, problems, failedCases };
  }

  function report(phase, { stats, problems, failedCases }) {
    const refused = Object.entries(stats.status).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`differential ${phase}: ${stats.sent} requests sent, ${stats.forwarded} forwarded, refused/not forwarded by status {${refused}}` +
      `, ${stats.nonPostBodies} GET/DELETE bodies reached a reader, ${problems.length} violations`);
    if (stats.unanswered.size > 0) {
      console.log(`  closed or reset without an answer (status 0): ${[...stats.unanswered].slice(0, 20).join(', ')}`);
    }
    for (const [name, per] of Object.entries(stats.perReader)) {
      const st = Object.entries(per.status).map(([s, n]) => `${s}: ${n}`).join(', ');
      console.log(`  ${name}: ${per.sent} sent, ${per.forwarded} forwarded, not forwarded {${st}}`);
    }
    if (problems.length === 0) return;
    // One example per failing case first (so every class shows), then the rest.
    const firsts = [...new Map(problems.map((p) => [p.kase ?? p.text, p])).values()];
    const shown = [...firsts, ...problems.filter((p) => !firsts.includes(p))].slice(0, MAX_REPORTED);
    const cases = [...failedCases].map(([n, k]) => `${n} (${k})`).join(', ');
    assert.fail(
      `${problems.length} violations in the ${phase} (seed ${SEED}); failing cases (violations): ${cases}\n\n` +
        shown.map((p, i) => `${i + 1}. ${p.text}`).join('\n\n') +
        (problems.length > shown.length ? `\n\n… ${problems.length - shown.length} more` : ''),
    );
  }

  test('every reader is reached and reads the baseline like the gateway', withLogs(async () => {
    const first = nextId + 1;
    const echo = CORPUS.find((c) => c.name === 'baseline-echo');
    const secret = CORPUS.find((c) => c.name === 'baseline-secret');
    await runPool([...expand(echo), ...expand(secret)]);
    await flushReaders();
    for (const r of Object.values(readers)) {
      const own = r.records.filter((rec) => sent.get(rec.requestId) && Number(rec.requestId.slice(2)) >= first);
      // echo: 3 senders × 2 protocols reach the reader and read as tools/call echo; secret never does.
      assert.equal(own.length, 6, `${r.name}: ${JSON.stringify(own)}`);
      for (const rec of own) {
        assert.deepEqual(rec.messages, [{ method: 'tools/call', tool: 'echo' }], `${r.name}: ${JSON.stringify(rec)}`);
        const entry = sent.get(rec.requestId);
        assert.equal(rec.identity ?? null, entry.principal.sub, `${r.name} identity: ${JSON.stringify(rec)}`);
      }
    }
    for (const [id, entry] of sent) {
      if (Number(id.slice(2)) < first) continue;
      assert.equal(entry.status, entry.c.name === 'baseline-echo' ? 200 : 403, `${id} ${entry.c.name} ${entry.reader} ${entry.protocol}`);
    }
  }));

  test('MCP-21: corpus: known reader disagreements', withLogs(async () => {
    const first = nextId + 1;
    await runPool(CORPUS.flatMap((c) => [...expand(c)]));
    await flushReaders();
    report('corpus', judge(first));
  }));

  test(`MCP-21: mutations (seeded, ${MUTATION_SECONDS} s)`, withLogs(async () => {
    const first = nextId + 1;
    const r = prng(SEED);
    const deadline = Date.now() + MUTATION_SECONDS * 1000;
    let mutated = 0;
    const jobs = {
      *[Symbol.iterator]() {
        while (Date.now() < deadline) {
          mutated++;
          yield* expand(mutateCase(r, CORPUS));
        }
      },
    };
    await runPool(jobs);
    await flushReaders();
    console.log(`differential mutations: ${mutated} mutated cases from seed ${SEED}`);
    report('mutations', judge(first));
  }));
});
