// Writes the seed corpus of fuzz_http2 (tests/fuzz/corpus/fuzz_http2/):
// valid HTTP/2 exchanges built with the raw frame builder of the integration
// tests. Each file: [slice size - 1][flags] then the frames after the
// preface (see fuzz_http2.cpp). Run: node tests/fuzz/make_http2_seeds.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  block, continuation, data, goaway, headers, indexed, literalIndexed, ping, priority, rstStream,
  S, settings, settingsAck, windowUpdate, frame, T, F,
} from '../integration/lib/h2raw.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'corpus', 'fuzz_http2');
const req = (method, path = '/mcp', extra = []) => [
  [':method', method], [':scheme', 'http'], [':path', path], [':authority', 'localhost'], ...extra];
const seed = (name, slice, flags, frames) =>
  writeFileSync(join(dir, name), Buffer.concat([Buffer.from([slice - 1, flags]), ...frames]));
const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

seed('get', 256, 0, [settings([[S.HEADER_TABLE_SIZE, 0]]), settingsAck(),
  headers(1, block(req('GET', '/mcp?x=1', [['accept', 'text/event-stream']])), { endStream: true })]);
seed('post_body_sliced', 7, 0, [settings([]), settingsAck(),
  headers(1, block(req('POST', '/mcp', [['content-type', 'application/json'], ['content-length', String(body.length)]]))),
  data(1, body.slice(0, 10)), data(1, body.slice(10), true)]);
const big = block(req('POST', '/mcp', [['authorization', 'Bearer a.b.c'], ['x-pad', 'p'.repeat(300)], ['cookie', 'a=1'], ['cookie', 'b=2']]));
seed('continuation_not_reading', 200, 1 | 4, [settings([[S.INITIAL_WINDOW_SIZE, 1024]]),
  headers(3, big.subarray(0, 100), { endHeaders: false }), continuation(3, big.subarray(100, 200)),
  continuation(3, big.subarray(200), true), data(3, body, true), ping(), windowUpdate(0, 65536)]);
const dyn1 = Buffer.concat([literalIndexed(':method', 'POST'), literalIndexed(':scheme', 'http'),
  literalIndexed(':path', '/mcp'), literalIndexed(':authority', 'localhost'), literalIndexed('x-big', 'v'.repeat(200))]);
const dyn2 = Buffer.concat([indexed(66), indexed(65), indexed(64), indexed(63), indexed(62), indexed(62)]);
seed('dynamic_table_pause', 32, 8, [settings([[S.MAX_FRAME_SIZE, 32768]]), settingsAck(),
  headers(1, dyn1), data(1, body), data(1, '', true), priority(5, 1, 32),
  headers(5, dyn2, { endStream: true }), windowUpdate(1, 100), rstStream(5)]);
seed('handler_reset_and_goaway', 64, 12, [settings([]), settingsAck(),
  headers(1, block(req('POST'))), data(1, body), headers(3, block(req('GET')), { endStream: true }),
  rstStream(3), goaway(3)]);
seed('trailers', 256, 0, [settings([]), settingsAck(), headers(1, block(req('POST'))), data(1, body),
  headers(1, block([['x-trailer', '1'], ['authorization', 'Bearer x']]), { endStream: true }),
  frame(T.PING, F.ACK, 0, Buffer.alloc(8))]);
seed('drain_two_streams', 40, 16, [settings([]), settingsAck(), headers(1, block(req('GET')), { endStream: true }),
  headers(3, block(req('HEAD')), { endStream: true }), headers(5, block(req('POST'))), data(5, body, true)]);
