// OAuth 2.0 Token Exchange (RFC 8693) for the dev idp: a confidential client
// (the gateway) presents a user's access token that this idp issued for one
// of its resources (the gateway's) and receives a token for an upstream
// audience, on the user's behalf:
//   sub   = the subject token's sub (the user)
//   aud   = the one requested audience/resource, from an allow-list
//   scope = requested scopes ∩ the subject token's scopes (all of the
//           subject's when none are requested)
//   act   = { sub: <client_id> } (RFC 8693 §4.1), nesting the subject's act
//   exp   = min(subject exp, now + ttl)
// oidc-provider authenticates the client and checks that the client may use
// the grant before the handler runs.
import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, importJWK, jwtVerify } from 'jose';
import { errors } from 'oidc-provider';

export const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
];

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

// The one target (audience or resource; RFC 8693 allows several, this idp
// issues a token for exactly one), checked against `audiences`.
function requestedTarget(params, audiences) {
  const targets = [...new Set([...asList(params.audience), ...asList(params.resource)])];
  if (targets.length === 0) throw new errors.InvalidRequest('audience or resource is required');
  if (targets.length > 1) throw new errors.InvalidTarget('exactly one audience or resource is supported');
  if (!audiences.includes(targets[0])) throw new errors.InvalidTarget('the requested audience is not allowed');
  return targets[0];
}

function narrowedScope(requested, granted) {
  const have = new Set(String(granted ?? '').split(' ').filter(Boolean));
  if (requested === undefined || requested === '') return [...have].join(' ');
  const scope = requested.split(' ').filter((s) => s !== '' && have.has(s));
  if (scope.length === 0) throw new errors.InvalidScope('none of the requested scopes were granted to the subject token');
  return [...new Set(scope)].join(' ');
}

// Registers the grant on `provider`.
//   signingJwk:       the provider's private signing JWK (its `kid`, RS256)
//   issuer:           the provider's issuer
//   subjectAudiences: the audiences a subject token must have one of
//   audiences:        the audiences a token may be exchanged for
//   ttl:              seconds an exchanged token lives at most
export async function registerTokenExchange(provider, { signingJwk, issuer, subjectAudiences, audiences, ttl }) {
  const { d, p, q, dp, dq, qi, ...publicJwk } = signingJwk;
  const verificationKeys = createLocalJWKSet({ keys: [publicJwk] });
  const signingKey = await importJWK(signingJwk, 'RS256');

  async function verifySubject(token) {
    try {
      const { payload } = await jwtVerify(token, verificationKeys, {
        issuer,
        audience: subjectAudiences,
        algorithms: ['RS256'],
        typ: 'at+jwt',
        requiredClaims: ['sub', 'exp'],
      });
      return payload;
    } catch {
      throw new errors.InvalidGrant('subject_token is invalid or expired');
    }
  }

  async function handler(ctx) {
    const { params, client } = ctx.oidc;
    if (!params.subject_token) throw new errors.InvalidRequest('missing required parameter subject_token');
    if (!params.subject_token_type) throw new errors.InvalidRequest('missing required parameter subject_token_type');
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE && params.subject_token_type !== JWT_TOKEN_TYPE) {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
      throw new errors.InvalidRequest('actor_token is not supported');
    }
    if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('unsupported requested_token_type');
    }
    const audience = requestedTarget(params, audiences);
    const subject = await verifySubject(params.subject_token);
    const scope = narrowedScope(params.scope, subject.scope);

    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(subject.exp, now + ttl);
    const act = subject.act ? { sub: client.clientId, act: subject.act } : { sub: client.clientId };
    const claims = { sub: subject.sub, client_id: client.clientId, act };
    if (scope) claims.scope = scope;
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: signingJwk.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(signingKey);

    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: Math.max(exp - now, 0),
      ...(scope ? { scope } : {}),
    };
  }

  provider.registerGrantType(GRANT_TYPE, handler, PARAMETERS, ['audience', 'resource']);
}
