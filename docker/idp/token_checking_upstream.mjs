// An MCP upstream that insists on tokens for its own audience: an HTTP
// server in front of an MCP server (mcp-add-server) that verifies every
// request's `Authorization: Bearer` JWT against an issuer's JWKS (signature,
// iss, aud = its own audience, exp, and optionally sub and act.sub), refuses
// anything else with 401, and forwards what passes, without the
// Authorization header, to the MCP server. It is what a gateway that sends
// its own credentials upstream (client credentials, token exchange) is tested
// against: a client's token passed through, whose aud is the gateway's
// resource, is refused.
//
// It records what it saw for tests: `seen` (in process) and one line per
// request on stdout (as a script):
//   checker: <accepted|refused> <method> <path> sub=… aud=… act.sub=… token_sha256=<first 16 hex> [reason=…]
// The token itself is never printed or kept, only its SHA-256.
//
// As a script (the compose stack runs it in the dev idp's image; the
// integration tests import it):
//   CHECKER_LISTEN         host:port to listen on            [0.0.0.0:9500]
//   CHECKER_BACKEND        the MCP server's origin, e.g. http://add-server:8080
//   CHECKER_JWKS_URL       the issuer's JWKS URL
//   CHECKER_ISSUER         the expected `iss`
//   CHECKER_AUDIENCE       the expected `aud`: this upstream's own audience
//   CHECKER_EXPECT_SUB     the expected `sub`, if set
//   CHECKER_EXPECT_ACT_SUB the expected `act.sub`, if set (token exchange)
// Prints "listening on <host>:<port>" on stderr once it accepts connections.
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

export function sha256(value) {
  return createHash('sha256').update(value).digest('hex');
}

// The Authorization header values as sent (a client may send several).
function authorizationValues(req) {
  const values = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === 'authorization') values.push(req.rawHeaders[i + 1]);
  }
  return values;
}

function forwardHeaders(req) {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && name !== 'authorization') headers[name] = value;
  }
  return headers;
}

export class TokenCheckingUpstream {
  // backend: the MCP server's origin; jwksUri, issuer, audience: what a token
  // must be signed by and carry; expectSub / expectActSub: optional claims.
  constructor({ backend, jwksUri, issuer, audience, expectSub, expectActSub, log }) {
    this.backend = new URL(backend);
    this.jwks = createRemoteJWKSet(new URL(jwksUri));
    this.issuer = issuer;
    this.audience = audience;
    this.expectSub = expectSub;
    this.expectActSub = expectActSub;
    this.log = log;
    this.seen = [];
    this.server = createServer((req, res) => this.handle(req, res));
  }

  listen(port = 0, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        this.port = address.port;
        this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
        resolve(this);
      });
    });
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // The token's claims, or throws with the reason it is refused.
  async verify(authorizations) {
    if (authorizations.length !== 1) throw new Error(`${authorizations.length} Authorization headers`);
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorizations[0]);
    if (!match) throw new Error('not a Bearer token');
    const { payload } = await jwtVerify(match[1], this.jwks, { issuer: this.issuer, audience: this.audience, algorithms: ['RS256', 'PS256', 'ES256'], requiredClaims: ['exp', 'sub'] });
    if (this.expectSub !== undefined && payload.sub !== this.expectSub) throw new Error('unexpected sub');
    if (this.expectActSub !== undefined && payload.act?.sub !== this.expectActSub) throw new Error('unexpected act.sub');
    return payload;
  }

  async handle(req, res) {
    const authorizations = authorizationValues(req);
    const record = {
      method: req.method,
      path: req.url,
      authorizationCount: authorizations.length,
      tokenSha256: authorizations.map((a) => sha256(a.replace(/^Bearer /, ''))),
    };
    this.seen.push(record);
    try {
      const claims = await this.verify(authorizations);
      Object.assign(record, { ok: true, sub: claims.sub, aud: claims.aud, act: claims.act, scope: claims.scope, clientId: claims.client_id });
    } catch (err) {
      Object.assign(record, { ok: false, reason: err.code ?? err.message });
    }
    this.log?.(record);
    if (!record.ok) {
      req.resume();
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer error="invalid_token"',
      });
      res.end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    this.forward(req, res);
  }

  forward(req, res) {
    const upstream = httpRequest(
      { host: this.backend.hostname, port: this.backend.port, method: req.method, path: req.url, headers: forwardHeaders(req) },
      (backendRes) => {
        const headers = Object.fromEntries(Object.entries(backendRes.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
        res.writeHead(backendRes.statusCode, headers);
        backendRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('backend unreachable');
    });
    req.pipe(upstream);
  }
}

export function describeRecord(r) {
  const fields = [
    r.ok ? 'accepted' : 'refused',
    r.method,
    r.path,
    `sub=${r.sub ?? '-'}`,
    `aud=${[r.aud ?? '-'].flat().join(',')}`,
    `act.sub=${r.act?.sub ?? '-'}`,
    `token_sha256=${r.tokenSha256.map((h) => h.slice(0, 16)).join(',') || '-'}`,
  ];
  if (!r.ok) fields.push(`reason=${r.reason}`);
  return `checker: ${fields.join(' ')}`;
}

async function main() {
  const env = process.env;
  const required = (name) => {
    if (!env[name]) throw new Error(`${name} is required`);
    return env[name];
  };
  const listen = env.CHECKER_LISTEN ?? '0.0.0.0:9500';
  const colon = listen.lastIndexOf(':');
  const checker = new TokenCheckingUpstream({
    backend: required('CHECKER_BACKEND'),
    jwksUri: required('CHECKER_JWKS_URL'),
    issuer: required('CHECKER_ISSUER'),
    audience: required('CHECKER_AUDIENCE'),
    expectSub: env.CHECKER_EXPECT_SUB || undefined,
    expectActSub: env.CHECKER_EXPECT_ACT_SUB || undefined,
    log: (r) => console.log(describeRecord(r)),
  });
  await checker.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon));
  console.error(`listening on ${listen.slice(0, colon)}:${checker.port}`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => checker.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`token checking upstream: ${err.message}`);
    process.exit(1);
  });
}
