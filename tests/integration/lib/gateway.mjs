// Starts mcp-auth-gateway with a generated config. The route's `resource` must
// be the public URL, so the listener port is chosen before the config is written.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATEWAY_BIN, requireFile } from './env.mjs';
import { freePort } from './net.mjs';
import { startProcess } from './processes.mjs';

export async function makeTempDir(prefix = 'mag-it-') {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeTempDir(dir) {
  if (dir) await rm(dir, { recursive: true, force: true });
}

// YAML is a superset of JSON, so the config is written as JSON: no YAML
// library needed and no quoting surprises.
export async function writeConfig(dir, config, name = 'gateway.yaml') {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

// The config of one gateway: one loopback listener, one provider `test`
// (JWKS from a file), one upstream `backend`, one route /mcp.
export function gatewayConfig({ port, upstreamUrl, issuer, jwksFile, audiences = [], scopes = [], routeAuth, listener = {}, upstream = {} }) {
  const resource = `http://127.0.0.1:${port}/mcp`;
  return {
    resource,
    config: {
      listeners: [{ address: `127.0.0.1:${port}`, ...listener }],
      providers: {
        test: { issuer, jwks_file: jwksFile, audiences, algorithms: ['RS256'] },
      },
      upstreams: { backend: { url: upstreamUrl, ...upstream } },
      routes: [
        {
          path_prefix: '/mcp',
          upstream: 'backend',
          resource,
          auth: routeAuth ?? { providers: ['test'], scopes },
        },
      ],
    },
  };
}

// Writes the config into `dir` and starts the gateway on a free port.
// Returns { proc, port, origin, url (the /mcp endpoint), resource, configPath }.
export async function startGateway({ dir, upstreamUrl, issuer, jwksFile, audiences, scopes, routeAuth, listener, upstream, name, timeoutMs = 10000 }) {
  const port = await freePort();
  const { resource, config } = gatewayConfig({ port, upstreamUrl, issuer, jwksFile, audiences, scopes, routeAuth, listener, upstream });
  const configPath = await writeConfig(dir, config, name);
  const proc = await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], {
    timeoutMs,
  });
  if (proc.port !== port) {
    throw new Error(`gateway reported port ${proc.port}, configured ${port}\n${proc.describe()}`);
  }
  const origin = `http://127.0.0.1:${port}`;
  return { proc, port, origin, url: `${origin}/mcp`, resource, configPath };
}

// Starts the gateway with a config built by the test (written to `dir/name`)
// and, when the config has an admin listener, waits for it too.
export async function launchGateway(dir, config, name = 'gateway.yaml', label = 'mcp-auth-gateway') {
  const configPath = await writeConfig(dir, config, name);
  const proc = await startProcess(label, requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath]);
  if (config.admin?.address) {
    const deadline = Date.now() + 10000;
    while (!proc.stderr.includes('admin interface on')) {
      if (Date.now() > deadline || !proc.running) throw new Error(`no admin listener\n${proc.describe()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { proc, configPath };
}
