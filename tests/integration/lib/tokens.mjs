// Test keys and tokens. The gateway's own `dev-token` command mints with the
// repository's dev key; everything else (expired, wrong audience, another
// key) is minted here with jose from keys generated per test run.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { GATEWAY_BIN, requireFile } from './env.mjs';
import { runToCompletion } from './processes.mjs';

export async function generateSigningKey(kid) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export async function writeJwks(path, keys) {
  await writeFile(path, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }, null, 2));
}

// An RFC 9068-shaped access token. Times are relative to now (seconds);
// the defaults give a token valid for an hour.
export async function mintToken(
  key,
  { iss, aud, sub = 'alice', scope, issuedAgo = 0, expiresIn = 3600, kid = key.kid, typ = 'at+jwt', claims = {} },
) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { client_id: 'integration-test', jti: `jti-${Math.random().toString(36).slice(2)}`, ...claims };
  if (scope !== undefined) payload.scope = scope;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid, typ })
    .setIssuer(iss)
    .setAudience(aud)
    .setSubject(sub)
    .setIssuedAt(now - issuedAgo)
    .setExpirationTime(now - issuedAgo + expiresIn)
    .sign(key.privateKey);
}

// `mcp-auth-gateway dev-token ...` with the given private JWK file.
export async function devToken({ keyFile, iss, aud, sub = 'alice', scope, ttl }) {
  const args = ['dev-token', '--key', keyFile, '--iss', iss, '--aud', aud, '--sub', sub];
  if (scope !== undefined) args.push('--scope', scope);
  if (ttl !== undefined) args.push('--ttl', String(ttl));
  const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), args, { timeoutMs: 10000 });
  const token = r.stdout.trim();
  if (r.code !== 0 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    throw new Error(`dev-token failed (code ${r.code}); stderr:\n${r.stderr}`);
  }
  return token;
}

// ES256 keys and tokens with node:crypto, synchronously: tens of thousands
// of distinct tokens in well under a second (flood tests; RS256 signing with
// jose would take a millisecond each). `jwt()` signs any header/payload, so
// tests can also make expired, unknown-kid or forged tokens.
export function generateEs256Key(kid) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const b64 = (object) => Buffer.from(JSON.stringify(object)).toString('base64url');
  return {
    kid,
    publicJwk,
    jwt(payload, header = {}) {
      const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid, ...header })}.${b64(payload)}`;
      const signature = cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

// The same key material under another kid (RSA key generation takes up to a
// second on a busy CI machine: tests that need many kids share a few keys).
export function withKid(key, kid) {
  return { ...key, kid, publicJwk: { ...key.publicJwk, kid } };
}
