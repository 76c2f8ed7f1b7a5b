// The token-checking upstream of docker/idp/token_checking_upstream.mjs (the
// compose stack runs the same file in the dev idp's image), in this process:
// an HTTP server in front of an MCP server that lets through only JWTs for
// its own audience and records what it saw (`seen`: sub, aud, act, the
// token's SHA-256, never the token).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IDP_DIR } from './dev_idp.mjs';
import { requireFile } from './env.mjs';

// backend: the MCP server's origin; jwksUri, issuer, audience: what a token
// must be signed by and carry. Resolves to the listening checker (`origin`,
// `seen`, `close()`).
export async function startTokenCheckingUpstream({ backend, jwksUri, issuer, audience, expectSub, expectActSub }) {
  requireFile(join(IDP_DIR, 'node_modules', 'jose', 'package.json'), 'jose (run npm ci in docker/idp)');
  const file = join(IDP_DIR, 'token_checking_upstream.mjs');
  const { TokenCheckingUpstream } = await import(pathToFileURL(file).href);
  const checker = new TokenCheckingUpstream({ backend, jwksUri, issuer, audience, expectSub, expectActSub });
  return checker.listen();
}
