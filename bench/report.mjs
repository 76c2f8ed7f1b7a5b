// Prints the bench/run table from results.tsv:
//   mode peer round rps p50_us p99_us cpu_us_per_req rss_kib errors cache
// One row per (mode, peer): median and range over the rounds, and the
// gateway's ratios to that peer measured in the same mode (same run):
//   thr× = gateway req/s / peer req/s        (≥ 1: the gateway is faster)
//   cpu× = peer CPU/request / gateway's      (≥ 1: the gateway is cheaper)
// The gateway of mode https-upstream is `gateway-https`. Mode
// token-exchange has no ratios: its two rows are one gateway's plain JWT
// route and its token-exchange route, and what is reported is the CPU the
// exchange's cache hit adds per request (per round, then the median).
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const [mode, peer, round, rps, p50, p99, cpu, rss, errors, cache] = line.split('\t');
    return { mode, peer, round, rps: Number(rps), p50, p99, cpu: Number(cpu), rss: Number(rss), errors: Number(errors), cache };
  });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const us = (v) => (/^\d+$/.test(v) ? (Number(v) >= 1000 ? `${(Number(v) / 1000).toFixed(2)}ms` : `${v}µs`) : v);
const names = {
  fixed: 'nginx fixed response (ceiling)',
  nginx: 'nginx reverse proxy, no auth',
  apache: 'Apache event + mod_auth_openidc + mod_proxy',
  node: 'Node MCP SDK + requireBearerAuth + jose',
  gateway: 'mcp-auth-gateway (JWT every request)',
  backend: 'mcp-add-server direct',
  'nginx-https': 'nginx reverse proxy, no auth, https upstream (verify, session reuse, keepalive 64)',
  'gateway-https': 'mcp-auth-gateway (JWT every request), https upstream (ca_file, resumption, pool)',
  'tx-plain': 'mcp-auth-gateway, JWT route, plain upstream',
  'tx-hit': 'mcp-auth-gateway, JWT route, token_exchange upstream (cache hit)',
};
const gatewayOf = { 'https-upstream': 'gateway-https' };

const groups = new Map();
for (const r of rows) {
  const key = `${r.mode}\t${r.peer}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const summary = new Map();
for (const [key, rs] of groups) {
  const [mode, peer] = key.split('\t');
  const byRps = [...rs].sort((a, b) => a.rps - b.rps);
  const mid = byRps[byRps.length >> 1];  // the median round, for its latencies
  summary.set(key, {
    mode,
    peer,
    rounds: rs.length,
    rps: median(rs.map((r) => r.rps)),
    min: byRps[0].rps,
    max: byRps[byRps.length - 1].rps,
    p50: mid.p50,
    p99: mid.p99,
    cpu: median(rs.map((r) => r.cpu)),
    rss: Math.max(...rs.map((r) => r.rss)),
    errors: rs.reduce((s, r) => s + r.errors, 0),
    cache: rs.map((r) => r.cache).filter((c) => c && c !== '-').join(' '),
  });
}

const lines = [];
lines.push('| mode | peer | req/s median (range) | p50 | p99 | CPU µs/req | RSS MiB | errors | gateway thr× | gateway cpu× |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
for (const s of summary.values()) {
  const gwPeer = gatewayOf[s.mode] ?? 'gateway';
  const gw = summary.get(`${s.mode}\t${gwPeer}`);
  let thr = '';
  let cpu = '';
  if (gw && s.peer !== gwPeer) {
    thr = `${(gw.rps / s.rps).toFixed(2)}×`;
    cpu = gw.cpu > 0 ? `${(s.cpu / gw.cpu).toFixed(2)}×` : '';
  }
  lines.push(
    `| ${s.mode} | ${names[s.peer] ?? s.peer} | ${Math.round(s.rps)} (${Math.round(s.min)}–${Math.round(s.max)}) | ` +
      `${us(s.p50)} | ${us(s.p99)} | ${s.cpu.toFixed(1)} | ${(s.rss / 1024).toFixed(1)} | ${s.errors} | ${thr} | ${cpu} |`,
  );
}
console.log(lines.join('\n'));
const caches = [...summary.values()].filter((s) => s.cache);
if (caches.length) {
  console.log('\nGateway token-cache lookups per round (from /metrics), upstream TLS connections opened (tls=N/resumed=R)');
  console.log('and token exchanges at the token endpoint (exchanges=N):');
  for (const s of caches) console.log(`  ${s.mode} ${s.peer}: ${s.cache}`);
}

// Mode token-exchange: the CPU per request the exchange path adds on a cache
// hit, from rounds that measured both routes back to back.
const plain = groups.get('token-exchange\ttx-plain') ?? [];
const hit = groups.get('token-exchange\ttx-hit') ?? [];
const paired = plain
  .map((p) => [p, hit.find((h) => h.round === p.round)])
  .filter(([, h]) => h);
if (paired.length) {
  const added = paired.map(([p, h]) => h.cpu - p.cpu);
  const slower = paired.map(([p, h]) => (1 - h.rps / p.rps) * 100);
  // Exchanges during the timed runs: 0 when every request was a cache hit.
  const exchanged = paired.reduce((n, [, h]) => n + Number(/exchanges=(\d+)/.exec(h.cache)?.[1] ?? NaN), 0);
  console.log(
    `\nToken exchange, cache hit: ${median(added).toFixed(1)} µs CPU/request added over the plain JWT route ` +
      `(median of ${paired.length} rounds; per round: ${added.map((a) => a.toFixed(1)).join(', ')} µs); ` +
      `throughput ${median(slower).toFixed(1)} % lower; ${exchanged} token exchanges during the timed runs. ` +
      'Budget: at most 5 µs.',
  );
}
