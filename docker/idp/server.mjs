// A local OAuth 2.1 / OpenID Connect authorization server for development and
// tests: the npm package oidc-provider with a small configuration of ours.
// It is NOT a production identity provider: one dev user, in-memory storage,
// signing key and cookie keys generated at every start.
//
// What MCP clients need from it, and where it is configured below:
//   - dynamic client registration (RFC 7591)             features.registration
//   - authorization code + PKCE S256 (OAuth 2.1)         pkce
//   - resource indicators (RFC 8707), JWT access tokens
//     whose `aud` is the gateway's resource              features.resourceIndicators
//   - CORS for browser clients such as MCP Inspector      clientBasedCORS + registrationCors
//   - a login page and a consent page                    interactions
// What the gateway needs for its upstreams' credentials:
//   - static confidential clients (IDP_GATEWAY_CLIENTS)  gatewayClients
//   - client credentials (RFC 6749 §4.4), JWT tokens
//     for an upstream audience                           features.clientCredentials
//   - token exchange (RFC 8693)                          token_exchange.mjs
//
// Environment (defaults in brackets):
//   IDP_HOST            address to listen on            [0.0.0.0]
//   IDP_PORT            port                            [9400]
//   IDP_ISSUER          issuer URL, as browsers see it  [http://localhost:9400]
//   IDP_RESOURCES       comma-separated resource URIs tokens may be issued for
//                       (the first is the default)      [http://localhost:8000/mcp]
//   IDP_CORS_ORIGINS    comma-separated browser origins [http://localhost:6274,http://127.0.0.1:6274]
//   IDP_DEV_USER        the dev user's login            [dev]
//   IDP_DEV_PASSWORD    the dev user's password         [dev-password]
//   IDP_ACCESS_TOKEN_TTL  seconds                       [3600]
//   IDP_EXTRA_SCOPES    comma-separated resource scopes grantable besides
//                       mcp:tools, e.g. for per-tool rules (math:add)  []
//   IDP_EXTRA_USERS     comma-separated login:password pairs of further
//                       users besides the dev user            []
//   IDP_GATEWAY_CLIENTS comma-separated static confidential clients, each
//                       id:auth_method:credential, allowed the client
//                       credentials and token exchange grants. auth_method is
//                       client_secret_basic or client_secret_post (credential:
//                       the secret) or private_key_jwt (credential: the path of
//                       a JSON file with the client's public JWK or JWKS) []
//   IDP_UPSTREAM_AUDIENCES  comma-separated audiences a gateway client may get
//                       tokens for: by token exchange of a token issued for one
//                       of IDP_RESOURCES, or by client credentials      []
//   IDP_TLS_PORT        a second listener, HTTPS, on this port, for clients
//                       that insist on an https token endpoint (the gateway
//                       on the compose network); needs the two below []
//   IDP_TLS_CERT        PEM certificate (chain) file of the HTTPS listener
//   IDP_TLS_KEY         PEM private key file of the HTTPS listener
//   IDP_TEST_COUNTERS   1: GET /test/counters answers the number of token
//                       requests per grant_type so far, as JSON
//                       {"<grant_type>": {"ok": n, "error": n}}; tests only [0]
import { randomBytes } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { GRANT_TYPE as TOKEN_EXCHANGE, registerTokenExchange } from './token_exchange.mjs';

const env = process.env;
const HOST = env.IDP_HOST ?? '0.0.0.0';
const PORT = Number(env.IDP_PORT ?? 9400);
const ISSUER = env.IDP_ISSUER ?? 'http://localhost:9400';
const RESOURCES = list(env.IDP_RESOURCES ?? 'http://localhost:8000/mcp');
const CORS_ORIGINS = list(env.IDP_CORS_ORIGINS ?? 'http://localhost:6274,http://127.0.0.1:6274');
const DEV_USER = env.IDP_DEV_USER ?? 'dev';
const DEV_PASSWORD = env.IDP_DEV_PASSWORD ?? 'dev-password';
const ACCESS_TOKEN_TTL = Number(env.IDP_ACCESS_TOKEN_TTL ?? 3600);
// The scope a resource server may be granted; the gateway's routes can require it.
const RESOURCE_SCOPE = 'mcp:tools';
// Further resource scopes (gateway `auth.tools` / `auth.methods` rules), granted
// only when a client asks for them (step-up). They are deliberately not in
// `configuration.scopes`: oidc-provider checks those static scopes against the
// scope a client registered with, and the MCP SDK registers with the scope of
// its first challenge, so it could never step up to a listed scope.
const EXTRA_SCOPES = list(env.IDP_EXTRA_SCOPES ?? '');
const USERS = new Map([[DEV_USER, DEV_PASSWORD], ...list(env.IDP_EXTRA_USERS ?? '').map(pair)]);
const GATEWAY_CLIENTS = list(env.IDP_GATEWAY_CLIENTS ?? '').map(gatewayClient);
const UPSTREAM_AUDIENCES = list(env.IDP_UPSTREAM_AUDIENCES ?? '');
const TEST_COUNTERS = env.IDP_TEST_COUNTERS === '1';
const MAX_FORM_BYTES = 8192;
const MAX_BODY_BYTES = 65536;

function list(value) {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

// "a:b" → ['a', 'b'], split at the first colon.
function pair(value) {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new Error(`expected name:value, got ${JSON.stringify(value.slice(0, 40))}`);
  return [value.slice(0, colon), value.slice(colon + 1)];
}

// One IDP_GATEWAY_CLIENTS entry as oidc-provider client metadata.
function gatewayClient(entry) {
  const [id, rest] = pair(entry);
  const [method, credential] = pair(rest);
  const client = {
    client_id: id,
    grant_types: ['client_credentials', TOKEN_EXCHANGE],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: method,
  };
  if (method === 'client_secret_basic' || method === 'client_secret_post') {
    client.client_secret = credential;
  } else if (method === 'private_key_jwt') {
    const keys = JSON.parse(readFileSync(credential, 'utf8'));
    client.jwks = Array.isArray(keys.keys) ? keys : { keys: [keys] };
  } else {
    throw new Error(`IDP_GATEWAY_CLIENTS: ${id}: unsupported auth method ${method}`);
  }
  return client;
}

// Everything templated into HTML comes from the request (client names are
// chosen by whoever registered the client), so all of it is escaped.
function escapeHtml(value) {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function signingKeys() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid: `dev-idp-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] };
}

function account(login) {
  return {
    accountId: login,
    async claims() {
      return { sub: login, name: login === DEV_USER ? 'Dev User' : login, email: `${login}@example.invalid`, email_verified: true };
    },
  };
}

// The gateway's clients may also get client credentials tokens for an upstream.
function servesResource(ctx, resource) {
  if (RESOURCES.includes(resource)) return true;
  const { client, params } = ctx.oidc ?? {};
  return (
    UPSTREAM_AUDIENCES.includes(resource) &&
    params?.grant_type === 'client_credentials' &&
    GATEWAY_CLIENTS.some((c) => c.client_id === client?.clientId)
  );
}

function resourceServerInfo(ctx, resource) {
  if (!servesResource(ctx, resource)) {
    throw new errors.InvalidTarget(`resource ${resource} is not served by this authorization server`);
  }
  return {
    scope: [RESOURCE_SCOPE, ...EXTRA_SCOPES].join(' '),
    audience: resource,
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

const jwks = await signingKeys();
const configuration = {
  jwks,
  clients: GATEWAY_CLIENTS,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (_ctx, id) => (USERS.has(id) ? account(id) : undefined),
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'profile', 'email', RESOURCE_SCOPE],
  // OAuth 2.1: the authorization code flow only, always with PKCE (S256).
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCES[0],
      useGrantedResource: () => true,
      getResourceServerInfo: resourceServerInfo,
    },
    revocation: { enabled: true },
  },
  // Public clients (token_endpoint_auth_method none) registered from a browser.
  clientBasedCORS: (_ctx, origin) => CORS_ORIGINS.includes(origin),
  // Refresh tokens for any client that registered the refresh_token grant,
  // not only with offline_access: MCP clients rarely ask for that scope.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AccessToken: ACCESS_TOKEN_TTL, ClientCredentials: ACCESS_TOKEN_TTL, AuthorizationCode: 120, Interaction: 600, Session: 3600, Grant: 3600 },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre>`);
  },
};

const provider = new Provider(ISSUER, configuration);
await registerTokenExchange(provider, {
  signingJwk: jwks.keys[0],
  issuer: ISSUER,
  subjectAudiences: RESOURCES,
  audiences: UPSTREAM_AUDIENCES,
  ttl: ACCESS_TOKEN_TTL,
});

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}label,input,button{display:block;margin:.4em 0}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, clientName, error) {
  return page(
    'Sign in',
    `<p>to <b>${escapeHtml(clientName)}</b> (local dev identity provider)</p>
${error ? `<p id="error" style="color:#b00">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Username <input name="login" id="login" value="${escapeHtml(DEV_USER)}"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="sign-in">Sign in</button>
</form>`,
  );
}

function consentPage(uid, clientName, scopes, resources) {
  return page(
    'Authorize',
    `<p><b>${escapeHtml(clientName)}</b> asks for access to:</p>
<ul>${resources.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>
<p>scopes: ${escapeHtml(scopes.join(' ') || '(none)')}</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm">
<button type="submit" id="allow">Allow</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
<button type="submit" id="deny">Deny</button>
</form>`,
  );
}

// A request body, bounded in size.
async function readBody(req, limit = MAX_BODY_BYTES) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// application/x-www-form-urlencoded body.
async function readForm(req) {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  return new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString('utf8'));
}

// Grants everything the request is still missing: the dev idp has one user
// and no policy beyond "the user clicked Allow".
async function grantMissing(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
  }
  return grant.save();
}

function requestedResources(params) {
  const r = params.resource;
  if (Array.isArray(r)) return r;
  return r ? [r] : [RESOURCES[0]];
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(login|confirm|abort))?$/;

async function interactions(ctx, next) {
  const match = INTERACTION.exec(ctx.path);
  if (!match) return next();
  const [, uid, action] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? details.params.client_id;
  ctx.set('Cache-Control', 'no-store');

  if (!action && ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body =
      details.prompt.name === 'login'
        ? loginPage(uid, clientName)
        : consentPage(uid, clientName, String(details.params.scope ?? '').split(' ').filter(Boolean), requestedResources(details.params));
    return undefined;
  }
  if (ctx.method !== 'POST') return next();

  let result;
  if (action === 'login') {
    const form = await readForm(ctx.req);
    const login = form.get('login') ?? '';
    if (!USERS.has(login) || !sameSecret(form.get('password') ?? '', USERS.get(login))) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(uid, clientName, 'Wrong username or password.');
      return undefined;
    }
    result = { login: { accountId: login } };
  } else if (action === 'confirm') {
    if (details.prompt.name !== 'consent') throw new errors.InvalidRequest('not at the consent step');
    const grantId = await grantMissing(details);
    result = { consent: { grantId } };
  } else {
    result = { error: 'access_denied', error_description: 'the user denied the request' };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
}

// oidc-provider gives the registration endpoint no CORS; browser clients
// (MCP Inspector) register themselves with fetch(), so allow our origins.
async function registrationCors(ctx, next) {
  const origin = ctx.get('Origin');
  if (ctx.path !== '/reg' || !CORS_ORIGINS.includes(origin)) return next();
  ctx.vary('Origin');
  ctx.set('Access-Control-Allow-Origin', origin);
  if (ctx.method === 'OPTIONS') {
    ctx.set('Access-Control-Allow-Methods', 'POST');
    ctx.set('Access-Control-Allow-Headers', ctx.get('Access-Control-Request-Headers') || 'content-type');
    ctx.set('Access-Control-Max-Age', '3600');
    ctx.status = 204;
    return undefined;
  }
  return next();
}

// MCP clients send no `scope` when the resource advertises none, and
// oidc-provider denies a request that would grant no scope at all. Such
// requests get the resource's scope, which the user then sees on the consent page.
async function defaultScope(ctx, next) {
  if (ctx.path === '/auth' && ctx.method === 'GET' && !ctx.query.scope) {
    ctx.query = { ...ctx.query, scope: RESOURCE_SCOPE };
  }
  return next();
}

// MCP Inspector registers with `"scope": ""`, which RFC 7591 does not forbid
// but oidc-provider refuses ("scope must be a non-empty string"). An empty
// scope means "no scope requested", so the member is dropped before
// oidc-provider reads the (already parsed, size-bounded) body.
async function registrationEmptyScope(ctx, next) {
  if (ctx.path !== '/reg' || ctx.method !== 'POST' || !ctx.is('application/json')) return next();
  const raw = await readBody(ctx.req);
  let metadata;
  try {
    metadata = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new errors.InvalidRequest('failed to parse the request body');
  }
  if (metadata && typeof metadata === 'object' && metadata.scope === '') delete metadata.scope;
  ctx.request.body = metadata;
  return next();
}

// Token requests per grant_type, for tests that check how often a client
// came back to the token endpoint (IDP_TEST_COUNTERS=1).
const counters = {};
function count(ctx, outcome) {
  const grant = String(ctx.oidc?.params?.grant_type ?? 'unknown');
  counters[grant] ??= { ok: 0, error: 0 };
  counters[grant][outcome] += 1;
}
async function testCounters(ctx, next) {
  if (ctx.path !== '/test/counters' || ctx.method !== 'GET') return next();
  ctx.set('Cache-Control', 'no-store');
  ctx.body = counters;
  return undefined;
}
if (TEST_COUNTERS) {
  provider.on('grant.success', (ctx) => count(ctx, 'ok'));
  provider.on('grant.error', (ctx) => count(ctx, 'error'));
  provider.use(testCounters);
}

provider.use(defaultScope);
provider.use(registrationEmptyScope);
provider.use(registrationCors);
provider.use(interactions);
provider.on('server_error', (_ctx, err) => console.error('idp: server error:', err));

const server = provider.listen(PORT, HOST, () => {
  const { port } = server.address();
  // The integration harness waits for this line.
  console.error(`dev idp: issuer ${ISSUER}, resources ${RESOURCES.join(' ')}`);
  console.error(`dev idp: listening on ${HOST}:${port}`);
});

// The same provider over HTTPS. The issuer stays IDP_ISSUER: only the
// transport differs.
let tlsServer;
if (env.IDP_TLS_PORT) {
  const tls = { cert: readFileSync(env.IDP_TLS_CERT ?? ''), key: readFileSync(env.IDP_TLS_KEY ?? '') };
  tlsServer = createHttpsServer(tls, provider.callback()).listen(Number(env.IDP_TLS_PORT), HOST, () => {
    console.error(`dev idp: https listening on ${HOST}:${tlsServer.address().port}`);
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    tlsServer?.close();
    server.close(() => process.exit(0));
  });
}
