// Refused tokens explained on stderr (docs/operations.md "Why a token was
// refused"): the `authn` line names what the token carried and what the
// route accepts, never the token; the client's 401 keeps its fixed text;
// a flood of refusals is rate-limited per reason and route with a count of
// what was left out, across worker threads; at debug level every refusal
// is written.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream } from './lib/echo_upstream.mjs';
import { launchGateway, makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { freePort, httpRequest } from './lib/net.mjs';
import { stopAll } from './lib/processes.mjs';

const ACCEPTED_ISS = 'https://b.example';
const OTHER_ISS = 'https://a.example';
const BURST = 10; // the gateway's per-key burst (common/core/log_rate_limiter.h)
const INTERVAL_MS = 10000; // and the interval after which one more line may be written
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64u = (x) => Buffer.from(x).toString('base64url');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };

function token(claims) {
  const input = `${b64u(JSON.stringify({ alg: 'RS256', kid: 'k1' }))}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`;
}

// The `authn` lines of a reason on stderr.
function refusalLines(proc, reason) {
  return proc.stderr.split('\n').filter((l) => l.includes('[authn]') && l.includes(`-> 401 ${reason}`));
}

describe('refused tokens in the log', () => {
  let tmp;
  let upstream;
  const sent = [];

  // A gateway with provider `dev` and two workers (one shared limiter).
  async function start(name, extra = {}) {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const { proc } = await launchGateway(tmp, {
      listeners: [{ address: `127.0.0.1:${port}` }],
      workers: 2,
      providers: { dev: { issuer: ACCEPTED_ISS, jwks_file: 'jwks.json', audiences: ['client-a'] } },
      upstreams: { backend: { url: upstream.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource }],
      ...extra,
    }, `${name}.yaml`, name);
    return { proc, resource };
  }
  const claims = (resource, over = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ACCEPTED_ISS, aud: resource, sub: 'u1', iat: now, exp: now + 300, ...over };
  };
  async function send(resource, t) {
    sent.push(t);
    return httpRequest(resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
  }
  function assertNoTokenIn(stderr) {
    for (const t of sent) {
      assert.ok(!stderr.includes(t), 'a token appeared on stderr');
      assert.ok(!stderr.includes(t.split('.')[2]), 'a token signature appeared on stderr');
    }
  }

  before(async () => {
    tmp = await makeTempDir('mag-refusal-log-');
    upstream = await startEchoUpstream();
    await writeFile(join(tmp, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeTempDir(tmp);
  });

  test('wrong issuer and wrong audience: what came and what is accepted; a flood is summarised', async () => {
    const { proc, resource } = await start('gateway-info');
    assert.equal((await send(resource, token(claims(resource)))).status, 200, proc.describe());

    const firstRefusal = Date.now();
    const refused = await send(resource, token(claims(resource, { iss: OTHER_ISS })));
    assert.equal(refused.status, 401);
    // The client learns nothing new: the fixed description, no accepted issuer.
    assert.equal(JSON.parse(refused.body).error_description, 'The token issuer is not accepted');
    assert.match(refused.headers['www-authenticate'], /error_description="The token issuer is not accepted"/);
    assert.ok(!refused.body.includes(ACCEPTED_ISS) && !refused.headers['www-authenticate'].includes(ACCEPTED_ISS));

    const wrongAud = await send(resource, token(claims(resource, { aud: ['x', 'y'] })));
    assert.equal(wrongAud.status, 401);
    assert.equal(JSON.parse(wrongAud.body).error_description, 'The token audience is not accepted');
    await sleep(200); // stderr is a pipe
    const [issLine] = refusalLines(proc, 'wrong_issuer');
    assert.ok(issLine, proc.describe());
    assert.ok(issLine.includes(' info [authn] POST /mcp -> 401 wrong_issuer (route /mcp): '), issLine);
    assert.ok(issLine.endsWith(`iss "${OTHER_ISS}" is not accepted (accepted: "${ACCEPTED_ISS}" from provider dev)`), issLine);
    const [audLine] = refusalLines(proc, 'wrong_audience');
    assert.ok(audLine, proc.describe());
    assert.ok(audLine.endsWith(`aud ["x","y"] is not accepted (accepted: "${resource}" (the route's resource), "client-a")`), audLine);

    // A flood of wrong issuers, hostile ones among them, over several
    // connections (both workers): BURST lines in all, the rest counted.
    const hostileIss = 'evil\n2026-01-01T00:00:00.000Z info [authn] forged line';
    assert.equal((await send(resource, token(claims(resource, { iss: hostileIss })))).status, 401);
    const flood = [];
    for (let i = 1; i < 60; i++) {
      flood.push(send(resource, token(claims(resource, { iss: i % 2 ? hostileIss : `${OTHER_ISS}/${i}` }))));
    }
    assert.ok((await Promise.all(flood)).every((r) => r.status === 401));
    await sleep(200);
    assert.equal(refusalLines(proc, 'wrong_issuer').length, BURST, proc.stderr);
    // The hostile value is escaped on its line, never a line of its own.
    assert.ok(proc.stderr.includes('iss "evil\\n2026-01-01T00:00:00.000Z info [authn] forged line"'), proc.stderr);
    assert.ok(!proc.stderr.split('\n').some((l) => l.startsWith('2026-01-01T00:00:00.000Z info [authn] forged')));

    // One interval after the first refusal, the next line carries the count.
    await sleep(Math.max(0, firstRefusal + INTERVAL_MS + 300 - Date.now()));
    assert.equal((await send(resource, token(claims(resource, { iss: OTHER_ISS })))).status, 401);
    await sleep(200);
    const lines = refusalLines(proc, 'wrong_issuer');
    assert.equal(lines.length, BURST + 1, lines.join('\n'));
    const summary = lines[BURST].match(/\(suppressed (\d+) similar messages\)$/);
    assert.ok(summary, lines[BURST]);
    assert.equal(Number(summary[1]), 1 + 60 - BURST, 'every refusal is written or counted');
    assert.ok(lines[BURST].includes(`iss "${OTHER_ISS}" is not accepted`), lines[BURST]);
    // The other reason kept its own budget.
    assert.equal(refusalLines(proc, 'wrong_audience').length, 1);
    assertNoTokenIn(proc.stderr);
  });

  test('log_level debug: every refusal is written, none summarised', async () => {
    const { proc, resource } = await start('gateway-debug', { log_level: 'debug' });
    const replies = [];
    for (let i = 0; i < 30; i++) replies.push(send(resource, token(claims(resource, { iss: `${OTHER_ISS}/${i}` }))));
    assert.ok((await Promise.all(replies)).every((r) => r.status === 401));
    await sleep(200);
    const lines = refusalLines(proc, 'wrong_issuer');
    assert.equal(lines.length, 30, proc.stderr);
    assert.ok(lines.every((l) => !l.includes('suppressed')));
    for (let i = 0; i < 30; i++) {
      assert.ok(lines.some((l) => l.includes(`iss "${OTHER_ISS}/${i}" is not accepted`)), `refusal ${i}`);
    }
    assertNoTokenIn(proc.stderr);
  });
});
