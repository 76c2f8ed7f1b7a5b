// config/schema.json: every example config validates against it
// and loads with --check-config; the schema is not vacuous (it refuses bad
// files); it names every key the loader reads (drift check against
// proxy/config/*.cpp) and docs/configuration.md documents every key it names.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Ajv from 'ajv';
import YAML from 'yaml';
import { GATEWAY_BIN, SOURCE_DIR, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { runToCompletion } from './lib/processes.mjs';

const CONFIG_DIR = join(SOURCE_DIR, 'config');
const GOOD_DIR = join(SOURCE_DIR, 'tests', 'data', 'config', 'good');
// config/upstream-mtls.yaml names a CA bundle and a client certificate and
// key that must exist at load: a self-signed certificate made here with the
// openssl CLI serves as all three's content.
const certDir = await makeTempDir('mag-config-schema-');
after(() => removeTempDir(certDir));
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'client.key', '-out', 'client.crt', '-days', '2', '-subj', '/CN=mag-config-schema'],
  { cwd: certDir, stdio: ['ignore', 'pipe', 'pipe'] });
} catch (e) {
  if (e.code === 'ENOENT') throw new Error('the openssl command is needed to make test certificates and is not installed');
  throw new Error(`openssl failed: ${e.stderr ?? e.message}`);
}
// What the example configs need from the environment (they have no default).
const EXAMPLE_ENV = {
  AUTH_ISSUER: 'https://api.asgardeo.io/t/example/oauth2/token',
  JWKS_URL: 'https://api.asgardeo.io/t/example/oauth2/jwks',
  CLIENT_ID: 'example-client-id',
  GITHUB_TOKEN: 'ghp_example',
  DOCS_API_KEY: 'example-api-key',
  UPSTREAM_CA_FILE: join(certDir, 'client.crt'),
  UPSTREAM_CLIENT_CERT_FILE: join(certDir, 'client.crt'),
  UPSTREAM_CLIENT_KEY_FILE: join(certDir, 'client.key'),
};

const schema = JSON.parse(await readFile(join(CONFIG_DIR, 'schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

async function yamlFiles(dir) {
  return (await readdir(dir)).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f));
}

function explain() {
  return JSON.stringify(validate.errors, null, 2);
}

// Every property name the schema defines, at any depth.
function schemaKeys(node, keys = new Set()) {
  if (Array.isArray(node)) node.forEach((n) => schemaKeys(n, keys));
  else if (node && typeof node === 'object') {
    if (node.properties) Object.keys(node.properties).forEach((k) => keys.add(k));
    Object.values(node).forEach((v) => schemaKeys(v, keys));
  }
  return keys;
}

describe('config schema', () => {
  test('example and fixture configs validate and load', async () => {
    const files = [...(await yamlFiles(CONFIG_DIR)), ...(await yamlFiles(GOOD_DIR))];
    assert.ok(files.length >= 4, files.join(', '));
    for (const file of files) {
      const doc = YAML.parse(await readFile(file, 'utf8'));
      assert.ok(validate(doc), `${file} does not match config/schema.json:\n${explain()}`);
      if (file.startsWith(CONFIG_DIR)) {
        const r = await runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--check-config', file], { env: EXAMPLE_ENV });
        assert.equal(r.code, 0, `--check-config ${file}:\n${r.stderr}`);
      }
    }
  });

  test('example configs point editors at the schema', async () => {
    for (const file of await yamlFiles(CONFIG_DIR)) {
      const text = await readFile(file, 'utf8');
      assert.match(text, /^# yaml-language-server: \$schema=\.\/schema\.json$/m, file);
    }
  });

  test('the schema refuses what the loader refuses', () => {
    const base = () => ({
      listeners: [{ address: '127.0.0.1:8000' }],
      providers: { p: { issuer: 'https://as.example', jwks_uri: 'https://as.example/jwks' } },
      upstreams: { u: { url: 'http://127.0.0.1:9000' } },
      routes: [{ path_prefix: '/mcp', upstream: 'u', resource: 'https://gw.example/mcp' }],
    });
    assert.ok(validate(base()), explain());
    const bad = [
      ['unknown top-level key', (c) => (c.listner = [])],
      ['alg none', (c) => (c.providers.p.algorithms = ['none'])],
      ['HS256', (c) => (c.providers.p.algorithms = ['HS256'])],
      ['both jwks_uri and jwks_file', (c) => (c.providers.p.jwks_file = 'x.json')],
      ['listener without port', (c) => (c.listeners[0].address = 'localhost')],
      ['path_prefix without /', (c) => (c.routes[0].path_prefix = 'mcp')],
      ['unknown route key', (c) => (c.routes[0].upstreams = 'u')],
      ['access_log format', (c) => (c.access_log = { format: 'xml' })],
      ['access_log identity mode', (c) => (c.access_log = { identity: 'hashed' })],
      ['access_log identity field', (c) => (c.access_log = { identity: { subject: 'hash' } })],
      ['access_log identity_key too short', (c) => (c.access_log = { identity: 'hash', identity_key: 'short' })],
      ['log level', (c) => (c.log_level = 'verbose')],
      ['no routes', (c) => delete c.routes],
      ['url and endpoints', (c) => (c.upstreams.u.endpoints = ['http://127.0.0.1:9001'])],
      ['empty endpoints', (c) => (delete c.upstreams.u.url, (c.upstreams.u.endpoints = []))],
      ['unknown route timeout', (c) => (c.routes[0].timeouts = { idle: 5 })],
      ['prompt rule neither scopes nor deny', (c) => (c.routes[0].auth = { prompts: { p: 'allow' } })],
      ['a * inside a resource key', (c) => (c.routes[0].auth = { resources: { 'demo://*/x': 'deny' } })],
      ['credential header name with a space', (c) => (c.upstreams.u.credentials = { headers: { 'X Key': 'v' } })],
      ['credential header name with _', (c) => (c.upstreams.u.credentials = { headers: { X_Key: 'v' } })],
      ['credential value with CR LF', (c) => (c.upstreams.u.credentials = { headers: { 'X-Key': 'v\r\nX-Other: 1' } })],
      ['credential file form without file', (c) => (c.upstreams.u.credentials = { headers: { 'X-Key': { prefix: 'Bearer ' } } })],
      ['credentials without headers', (c) => (c.upstreams.u.credentials = {})],
      ['client_credentials and token_exchange together', (c) => (c.upstreams.u.credentials = {
        client_credentials: { token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 's' },
        token_exchange: { token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 's', audience: 'a' },
      })],
      ['token_exchange without audience or resource', (c) => (c.upstreams.u.credentials = {
        token_exchange: { token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 's' },
      })],
      ['client_credentials with token_endpoint and issuer', (c) => (c.upstreams.u.credentials = {
        client_credentials: { token_endpoint: 'https://as.example/token', issuer: 'https://as.example', client_id: 'gw', client_secret: 's' },
      })],
      ['client_credentials with an unknown key', (c) => (c.upstreams.u.credentials = {
        client_credentials: { token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 's', scope: ['a'] },
      })],
      ['client_credentials with an unknown auth_method', (c) => (c.upstreams.u.credentials = {
        client_credentials: { token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 's', auth_method: 'basic' },
      })],
    ];
    for (const [what, mutate] of bad) {
      const c = base();
      mutate(c);
      assert.equal(validate(c), false, `schema accepted: ${what}`);
    }
  });

  test('the schema names every key the loader reads', async () => {
    const loaderDir = join(SOURCE_DIR, 'proxy', 'config');
    const loaderFiles = (await readdir(loaderDir)).filter((f) => f.endsWith('.cpp')).sort();
    const source = (await Promise.all(loaderFiles.map((f) => readFile(join(loaderDir, f), 'utf8')))).join('\n');
    const keys = schemaKeys(schema);
    const lists = [...source.matchAll(/read_map\([^;]*?\{((?:\s*"[a-z_]+",?)+)\s*\}\)/g)];
    assert.ok(lists.length >= 5, 'found the loader key lists');
    for (const [, list] of lists) {
      for (const [, key] of list.matchAll(/"([a-z_]+)"/g)) {
        assert.ok(keys.has(key), `proxy/config reads '${key}', config/schema.json does not define it`);
      }
    }
  });

  test('docs/configuration.md documents every key in the schema', async () => {
    const docs = await readFile(join(SOURCE_DIR, 'docs', 'configuration.md'), 'utf8');
    for (const key of schemaKeys(schema)) {
      assert.ok(docs.includes(`\`${key}\``), `docs/configuration.md does not mention \`${key}\``);
    }
  });
});
