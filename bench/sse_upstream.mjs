// SSE fan-out upstream for `bench/run sse`: every GET (but /count) gets a
// `text/event-stream` response that stays open (one comment line first, so
// the client sees the response head at once). POST /notify writes one
// `notifications/message` event to every open stream, stamped with the wall
// clock (ms, µs resolution) at which this process started the fan-out
// (`t0`) and at which it wrote that stream's copy (`sent`), and answers with
// the number of streams it was written to.
//
//   node bench/sse_upstream.mjs PORT
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2] || 18087);
const streams = new Set();

const now = () => performance.timeOrigin + performance.now();

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url !== '/count') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': open\n\n');
    streams.add(res);
    const forget = () => streams.delete(res);
    res.on('close', forget);
    req.on('close', forget);
    return;
  }
  if (req.method === 'POST' && req.url === '/notify') {
    req.resume();
    req.on('end', () => {
      const t0 = now();
      const head = `event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{"t0":${t0},"sent":`;
      let n = 0;
      for (const s of streams) {
        s.write(`${head}${now()}}}}\n\n`);
        ++n;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ written: n, write_ms: now() - t0 }));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ open: streams.size }));
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 0;  // SSE streams must not be cut by the keep-alive timer
server.requestTimeout = 0;
server.headersTimeout = 60000;
server.listen(port, '127.0.0.1', () => process.stderr.write(`sse upstream on ${port}\n`));
