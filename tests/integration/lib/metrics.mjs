// Reading the gateway from outside: its Prometheus text on the admin
// listener, and its resident memory from /proc.
import { readFileSync } from 'node:fs';
import { httpRequest } from './net.mjs';

// Prometheus text exposition → Map("name{labels}" → number), labels in the
// order the gateway prints them. Comment lines are skipped.
export function parseSamples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

// GET /stats/prometheus on the admin origin → Map (see parseSamples).
export async function scrapeSamples(adminOrigin) {
  const res = await httpRequest(`${adminOrigin}/stats/prometheus`);
  if (res.status !== 200) throw new Error(`metrics scrape answered ${res.status}: ${res.body}`);
  return parseSamples(res.body);
}

// `after - before` for one series (absent = 0).
export const sampleDelta = (before, after, series) => (after.get(series) ?? 0) - (before.get(series) ?? 0);

export function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// Under AddressSanitizer (scripts/test-sanitized exports ASAN_OPTIONS) freed
// memory sits in ASan's quarantine, so RSS says nothing about what the
// gateway keeps; LeakSanitizer checks that instead at its exit.
export const SANITIZED = process.env.ASAN_OPTIONS !== undefined;
