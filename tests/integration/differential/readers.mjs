// The four upstreams of differential.test.mjs, each a real server parsing
// with a different reader and recording, per request, what it read:
//   express  express.json() (body-parser: charset from Content-Type through
//            iconv-lite, gzip/deflate/br inflated), as the MCP TypeScript
//            SDK's createMcpExpressApp sets it up
//   node     node:http, the body decoded as UTF-8, JSON.parse
//   python   Debian's /usr/bin/python3, wsgiref + json.loads on the body
//            decoded with the declared charset (wsgi_reader.py)
//   jansson  evhttp + json_loadb with default flags (jansson_reader.c)
// A record: { reader, httpMethod, requestId, session, identity,
// protocolVersion, mcpMethod, mcpName, bodyBytes, messages: [{method, tool}],
// parseError? }. Each reader answers initialize with a fresh Mcp-Session-Id
// and anything else with an empty JSON-RPC result.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { startProcess } from '../lib/processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const PYTHON_BIN = '/usr/bin/python3';
export const WSGI_READER = join(here, 'wsgi_reader.py');
const REPLY = '{"jsonrpc":"2.0","id":1,"result":{}}';

// What one JSON-RPC message asks for, as this reader's parse produced it.
export function describeMessage(message) {
  const isObject = message !== null && typeof message === 'object' && !Array.isArray(message);
  const method = isObject && 'method' in message ? message.method : null;
  let tool = null;
  if (method === 'tools/call' && message.params !== null && typeof message.params === 'object' && 'name' in message.params) {
    tool = message.params.name;
  }
  return { method, tool };
}

function describeBody(parsed) {
  return (Array.isArray(parsed) ? parsed : [parsed]).map(describeMessage);
}

function headerRecord(reader, req) {
  const h = req.headers; // node joins repeated custom headers with ", "
  return {
    reader,
    httpMethod: req.method,
    requestId: h['x-request-id'] ?? null,
    session: h['mcp-session-id'] ?? null,
    identity: h['x-mcp-subject'] ?? null,
    protocolVersion: h['mcp-protocol-version'] ?? null,
    mcpMethod: h['mcp-method'] ?? null,
    mcpName: h['mcp-name'] ?? null,
  };
}

function answer(res, record) {
  const headers = { 'content-type': 'application/json' };
  if (record.messages.some((m) => m.method === 'initialize')) {
    headers['mcp-session-id'] = `${record.reader}-${randomBytes(12).toString('hex')}`;
  }
  res.writeHead(200, headers).end(REPLY);
}

async function listen(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return `http://127.0.0.1:${server.address().port}`;
}

function inProcessReader(name, server, records) {
  return {
    name,
    records,
    listen: async () => listen(server),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function startExpressReader() {
  const records = [];
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    const record = { ...headerRecord('express', req), bodyBytes: Number(req.headers['content-length'] ?? 0), messages: [] };
    if (req.body !== undefined) record.messages = describeBody(req.body);
    else if (req.headers['transfer-encoding'] || Number(req.headers['content-length'] ?? 0) > 0) {
      record.parseError = 'express.json() left the body unparsed (not application/json)';
    }
    records.push(record);
    answer(res, record);
  });
  // body-parser's refusals (415 charset/encoding, 400 JSON, 413): recorded, not executed.
  app.use((err, req, res, _next) => {
    const record = { ...headerRecord('express', req), bodyBytes: 0, messages: [], parseError: `${err.status} ${err.type ?? err.message}` };
    records.push(record);
    res.status(err.status ?? 500).json({ error: String(err.type ?? 'error') });
  });
  const reader = inProcessReader('express', http.createServer(app), records);
  reader.origin = await reader.listen();
  return reader;
}

export async function startNodeReader() {
  const records = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record = { ...headerRecord('node', req), bodyBytes: body.length, messages: [] };
      if (body.length > 0) {
        try {
          record.messages = describeBody(JSON.parse(body.toString('utf8')));
        } catch (err) {
          record.parseError = String(err.message).slice(0, 200);
        }
      }
      records.push(record);
      answer(res, record);
    });
  });
  const reader = inProcessReader('node', server, records);
  reader.origin = await reader.listen();
  return reader;
}

// A child process that prints one JSON record per line on stdout.
async function childReader(name, bin, args, missing) {
  if (!existsSync(bin)) throw new Error(missing);
  const proc = await startProcess(`${name} reader`, bin, args);
  const records = [];
  let pending = '';
  proc.child.stdout.on('data', (d) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        records.push({ reader: name, ...JSON.parse(line) });
      } catch {
        records.push({ reader: name, requestId: null, messages: [], parseError: `unreadable record line: ${line.slice(0, 200)}` });
      }
    }
  });
  return { name, records, proc, origin: `http://127.0.0.1:${proc.port}`, close: () => proc.stop() };
}

export function startPythonReader() {
  return childReader('python', PYTHON_BIN, [WSGI_READER],
    `${PYTHON_BIN} not found: the python reader needs Debian's python3 (scripts/setup installs it)`);
}

export function startJanssonReader(bin) {
  return childReader('jansson', bin, [],
    `jansson reader not found at ${bin}: build the CMake target diff_jansson_reader (ctest sets MAG_JANSSON_READER_BIN)`);
}
