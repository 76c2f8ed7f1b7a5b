// Load generation for flood tests: many HTTP/1.1 requests over a fixed set
// of keep-alive connections, and h2load (Debian nghttp2-client) for HTTP/2.
import http from 'node:http';
import { runToCompletion } from './processes.mjs';

// Sends one request per item of `items` (headersFor(item) gives its
// headers) over `connections` keep-alive connections, `connections` in
// flight at a time. Resolves with a Map status → count.
export async function floodHttp1(url, items, { connections = 8, method = 'POST', body = '{}', headersFor, timeoutMs = 10000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const statuses = new Map();
  const one = (item) =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent, headers: { 'content-type': 'application/json', ...headersFor(item) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const status = await one(items[next++]);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}

export function runH2load(args, { timeoutMs = 60000 } = {}) {
  return runToCompletion('h2load', args, { timeoutMs });
}

// "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout"
// and "status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx".
export function parseH2load(stdout) {
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  if (!m) throw new Error(`no h2load summary line in:\n${stdout}`);
  const [total, , done, succeeded, failed, errored, timeout] = m.slice(1).map(Number);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const [s2xx, s3xx, s4xx, s5xx] = codes ? codes.slice(1).map(Number) : [];
  return { total, done, succeeded, failed, errored, timeout, s2xx, s3xx, s4xx, s5xx };
}
