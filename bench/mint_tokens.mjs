// Bench keys and tokens, with node:crypto only (no npm dependency).
//
//   node mint_tokens.mjs DIR ISSUER AUDIENCE UNIQUE_COUNT [SSE_AUDIENCE]
//
// Writes into DIR:
//   jwks.json            public RSA-2048 (kid bench-rs) + P-256 (kid bench-es) keys
//   same.txt             one RS256 token
//   rotate.txt           1000 RS256 tokens
//   unique-rs256.txt     UNIQUE_COUNT RS256 tokens (all different jti)
//   unique-es256.txt     UNIQUE_COUNT ES256 tokens
//   sse.txt              one RS256 token for SSE_AUDIENCE (mode sse), if given
// Every token is valid for 2 hours and carries scope "math:add".
// The keys are generated per run and never leave DIR.
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, issuer, audience, uniqueArg, sseAudience] = process.argv.slice(2);
if (!dir || !issuer || !audience) {
  console.error('usage: node mint_tokens.mjs DIR ISSUER AUDIENCE [UNIQUE_COUNT]');
  process.exit(2);
}
const uniqueCount = Math.max(0, Math.min(200000, Number(uniqueArg ?? 0) | 0));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys = [
  { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'bench-rs', alg: 'RS256', use: 'sig' },
  { ...ec.publicKey.export({ format: 'jwk' }), kid: 'bench-es', alg: 'ES256', use: 'sig' },
];
writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys }));

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const now = Math.floor(Date.now() / 1000);

function mint(alg, n, aud = audience) {
  const header = b64url(JSON.stringify({ alg, kid: alg === 'RS256' ? 'bench-rs' : 'bench-es', typ: 'at+jwt' }));
  const payload = b64url(
    JSON.stringify({
      iss: issuer,
      aud,
      sub: `bench-user-${n % 97}`,
      client_id: 'bench',
      scope: 'math:add',
      iat: now - 5,
      exp: now + 7200,
      jti: `bench-${alg}-${n}-${Math.random().toString(36).slice(2)}`,
    }),
  );
  const input = Buffer.from(`${header}.${payload}`);
  const signature =
    alg === 'RS256'
      ? sign('sha256', input, rsa.privateKey)
      : sign('sha256', input, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(signature)}`;
}

function writeTokens(name, alg, count) {
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(mint(alg, i));
  writeFileSync(join(dir, name), lines.join('\n') + '\n');
}

writeTokens('same.txt', 'RS256', 1);
writeTokens('rotate.txt', 'RS256', 1000);
writeTokens('unique-rs256.txt', 'RS256', uniqueCount);
writeTokens('unique-es256.txt', 'ES256', uniqueCount);
if (sseAudience) writeFileSync(join(dir, 'sse.txt'), mint('RS256', 0, sseAudience) + '\n');
