// A token endpoint for bench/run's mode token-exchange: answers an RFC 8693
// token-exchange POST with one fixed token, so the bench measures the
// gateway, not an authorization server.
//
//   node token_endpoint.mjs PORT CLIENT_ID CLIENT_SECRET
//
//   POST /token   form body with grant_type token-exchange and a
//                 subject_token; the client authenticated with HTTP Basic
//                 (client_secret_basic) or client_id/client_secret in the
//                 body (client_secret_post). Answers 200 with
//                 {access_token, token_type: "Bearer", issued_token_type,
//                 expires_in: 3600}; 401 invalid_client or 400
//                 invalid_request / unsupported_grant_type otherwise.
//   GET /count    {"exchanges": N, "refused": M}
//
// It listens on 127.0.0.1 only and never prints a token.
import { createServer } from 'node:http';

const [portArg, clientId, clientSecret] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || !clientId || !clientSecret) {
  console.error('usage: node token_endpoint.mjs PORT CLIENT_ID CLIENT_SECRET');
  process.exit(2);
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const MAX_BODY = 64 * 1024;
const issued = JSON.stringify({
  access_token: 'bench-exchanged-access-token',
  token_type: 'Bearer',
  issued_token_type: ACCESS_TOKEN_TYPE,
  expires_in: 3600,
});
let exchanges = 0;
let refused = 0;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(body);
}

function refuse(res, status, error, description) {
  refused++;
  console.error(`refused: ${error}: ${description}`);
  send(res, status, JSON.stringify({ error, error_description: description }));
}

// The client's credentials: HTTP Basic (RFC 6749 §2.3.1, form-urlencoded
// id and secret) or the body's client_id / client_secret.
function clientCredentials(req, form) {
  const header = req.headers.authorization ?? '';
  if (header.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

function exchange(req, res, body) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return refuse(res, 400, 'invalid_request', `content-type ${type || '(none)'}`);
  }
  const form = new URLSearchParams(body);
  let client;
  try {
    client = clientCredentials(req, form);
  } catch {
    client = null;
  }
  if (!client || client.id !== clientId || client.secret !== clientSecret) {
    return refuse(res, 401, 'invalid_client', 'unknown client or wrong secret');
  }
  if (form.get('grant_type') !== TOKEN_EXCHANGE) {
    return refuse(res, 400, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
  }
  if (!form.get('subject_token')) return refuse(res, 400, 'invalid_request', 'no subject_token');
  if (!form.get('subject_token_type')) return refuse(res, 400, 'invalid_request', 'no subject_token_type');
  exchanges++;
  send(res, 200, issued);
}

createServer((req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method === 'GET' && path === '/count') return send(res, 200, JSON.stringify({ exchanges, refused }));
  if (req.method === 'GET' && path === '/') return send(res, 200, '{}');  // bench/run's readiness probe
  if (req.method !== 'POST' || path !== '/token') return send(res, 404, '{"error":"not_found"}');
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      refuse(res, 400, 'invalid_request', 'body too large');
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (size <= MAX_BODY) exchange(req, res, Buffer.concat(chunks).toString('utf8'));
  });
}).listen(port, '127.0.0.1');
