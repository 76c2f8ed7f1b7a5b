// `mcp-auth-gateway --check-config FILE`: exit 0 for a valid file, non-zero
// with the reason on stderr otherwise.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_BIN, requireFile } from './lib/env.mjs';
import { gatewayConfig, makeTempDir, removeTempDir, writeConfig } from './lib/gateway.mjs';
import { runToCompletion } from './lib/processes.mjs';
import { generateSigningKey, writeJwks } from './lib/tokens.mjs';

describe('--check-config', () => {
  let tmp;
  let otherCwd;
  before(async () => {
    tmp = await makeTempDir();
    otherCwd = join(tmp, 'elsewhere');
    await mkdir(otherCwd);
    await writeJwks(join(tmp, 'jwks.json'), [await generateSigningKey('check-key')]);
  });
  after(() => removeTempDir(tmp));

  // Runs --check-config from a directory other than the config's, so relative
  // paths only work if they resolve against the config file.
  const check = (path, env) =>
    runToCompletion(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--check-config', path], { timeoutMs: 10000, cwd: otherCwd, env });
  const validConfig = () =>
    gatewayConfig({ port: 18080, upstreamUrl: 'http://127.0.0.1:19000', issuer: 'https://issuer.example', jwksFile: 'jwks.json' }).config;

  test('a valid config (relative jwks_file) → exit 0', async () => {
    const r = await check(await writeConfig(tmp, validConfig(), 'valid.yaml'));
    assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  });

  test('a route naming an unknown upstream → non-zero, the reason names it', async () => {
    const config = validConfig();
    config.routes[0].upstream = 'no-such-upstream';
    const r = await check(await writeConfig(tmp, config, 'unknown-upstream.yaml'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-upstream/, `stderr: ${r.stderr}`);
  });

  test('${VAR} expands from the environment; an unset one is an error that names it', async () => {
    const config = validConfig();
    config.providers.test.issuer = '${MAG_IT_ISSUER}';
    const path = await writeConfig(tmp, config, 'env.yaml');
    const ok = await check(path, { MAG_IT_ISSUER: 'https://issuer.example' });
    assert.equal(ok.code, 0, `with MAG_IT_ISSUER set: ${ok.stderr}`);
    delete process.env.MAG_IT_ISSUER; // children inherit this process's environment
    const bad = await check(path);
    assert.notEqual(bad.code, 0, 'unset MAG_IT_ISSUER must fail');
    assert.match(bad.stderr, /MAG_IT_ISSUER/, `stderr: ${bad.stderr}`);
  });

  test('a file that is not a config → non-zero with a reason', async () => {
    const r = await check(await writeConfig(tmp, ['just', 'a', 'list'], 'list.yaml'));
    assert.notEqual(r.code, 0);
    assert.notEqual(r.stderr.trim(), '', 'a reason on stderr');
  });

  test('a missing file → non-zero with a reason', async () => {
    const r = await check(join(tmp, 'does-not-exist.yaml'));
    assert.notEqual(r.code, 0);
    assert.notEqual(r.stderr.trim(), '', 'a reason on stderr');
  });
});
