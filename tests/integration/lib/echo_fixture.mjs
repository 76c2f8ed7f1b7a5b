// The most common test set-up: a recording echo upstream behind a gateway
// that trusts one freshly generated signing key (file JWKS), and a valid
// token for the gateway's resource. close() undoes all of it.
import { join } from 'node:path';
import { startEchoUpstream } from './echo_upstream.mjs';
import { makeTempDir, removeTempDir, startGateway } from './gateway.mjs';
import { stopAll } from './processes.mjs';
import { generateSigningKey, mintToken, writeJwks } from './tokens.mjs';

export async function startEchoFixture({ issuer, kid }) {
  const tmp = await makeTempDir();
  const upstream = await startEchoUpstream();
  const key = await generateSigningKey(kid);
  const jwksFile = join(tmp, 'jwks.json');
  await writeJwks(jwksFile, [key]);
  const gateway = await startGateway({ dir: tmp, upstreamUrl: upstream.origin, issuer, jwksFile });
  const token = await mintToken(key, { iss: issuer, aud: gateway.resource });
  const close = async () => {
    await stopAll();
    await upstream.close();
    await removeTempDir(tmp);
  };
  return { tmp, jwksFile, upstream, gateway, key, token, close };
}
