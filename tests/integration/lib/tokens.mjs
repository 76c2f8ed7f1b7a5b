// Test keys and tokens. The gateway's own `dev-token` command mints with the
// repository's dev key; everything else (expired, wrong audience, another
// key) is minted here with jose from keys generated per test run.
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
