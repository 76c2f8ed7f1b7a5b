// The most common test set-up: a recording echo upstream behind a gateway
// that trusts one freshly generated signing key (file JWKS), and a valid
// token for the gateway's resource. close() undoes all of it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEchoUpstream } from './echo_upstream.mjs';
import { makeTempDir, removeTempDir, startGateway } from './gateway.mjs';
import { MCP_POST_HEADERS, httpRequest, initializeBody } from './net.mjs';
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
  // The gateway forwards only the sessions it saw opened: an initialize the
  // echo upstream answers with Mcp-Session-Id `id` binds it to `token`'s
  // principal. The upstream's handler is reset to the default afterwards.
  const openSession = async (id) => {
    upstream.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': id });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
    });
    const res = await httpRequest(gateway.url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` },
      body: initializeBody(1),
    });
    upstream.setHandler(null);
    assert.equal(res.status, 200, `initialize for session ${id}: ${res.body}`);
  };
  return { tmp, jwksFile, upstream, gateway, key, token, close, openSession };
}
