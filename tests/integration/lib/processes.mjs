// Child processes under test: start, wait for the "listening on" line, keep
// their output for diagnostics, and make sure none outlives the test file.
import { spawn } from 'node:child_process';

const LISTENING = /listening on 127\.0\.0\.1:(\d+)/g;
const LOG_TAIL_CHARS = 6000;

// Every process this test file started, running or not, so that a failing test
// can print all of their output.
const started = [];

export class TestProcess {
  constructor(name, child) {
    this.name = name;
    this.child = child;
    this.stdout = '';
    this.stderr = '';
    this.ports = [];
    this.exitCode = undefined;
    this.exitSignal = undefined;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
    });
  }

  get port() {
    return this.ports[0];
  }

  get running() {
    return this.exitCode === undefined && this.exitSignal === undefined;
  }

  // SIGTERM, then SIGKILL if it has not exited within graceMs.
  async stop(graceMs = 3000) {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }

  describe() {
    const status = this.running ? 'running' : `exited code=${this.exitCode} signal=${this.exitSignal}`;
    const tail = (s) => (s.length > LOG_TAIL_CHARS ? `…${s.slice(-LOG_TAIL_CHARS)}` : s);
    let text = `--- ${this.name} (pid ${this.child.pid}, ${status}) stderr ---\n${tail(this.stderr)}`;
    if (this.stdout.trim() !== '') text += `\n--- ${this.name} stdout ---\n${tail(this.stdout)}`;
    return text;
  }
}

// Starts `bin args` and resolves once it has printed `listeningLines`
// "listening on 127.0.0.1:<port>" lines on stderr (0: resolve right away).
// Rejects, with the output so far, if it exits first or takes longer than timeoutMs.
export function startProcess(name, bin, args, { listeningLines = 1, timeoutMs = 10000, env, cwd } = {}) {
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd,
  });
  const proc = new TestProcess(name, child);
  started.push(proc);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => (proc.stdout += d));

  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const scan = () => {
      proc.ports = [...proc.stderr.matchAll(LISTENING)].map((m) => Number(m[1]));
      if (proc.ports.length >= listeningLines) settle(resolve, proc);
    };
    child.stderr.on('data', (d) => {
      proc.stderr += d;
      scan();
    });
    child.on('error', (err) => settle(reject, new Error(`${name}: failed to start ${bin}: ${err.message}`)));
    child.on('exit', (code, signal) =>
      settle(reject, new Error(`${name} exited (code=${code} signal=${signal}) before it was ready\n${proc.describe()}`)),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(reject, new Error(`${name} not ready within ${timeoutMs} ms\n${proc.describe()}`));
    }, timeoutMs);
    scan();
  });
}

// Runs a program to completion (for --check-config, dev-token, the conformance CLI).
export function runToCompletion(bin, args, { timeoutMs = 30000, env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`failed to run ${bin}: ${err.message}`));
    });
    // 'close', not 'exit': 'exit' can come before the last of stdout has
    // been read, and a caller would then parse a truncated (even empty) output.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') {
        reject(new Error(`${bin} ${args.join(' ')}: killed after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export async function stopAll() {
  await Promise.all(started.map((p) => p.stop()));
}

export function describeAll() {
  return started.map((p) => p.describe()).join('\n');
}

// Wraps a test body: on failure, the output of every process this file
// started is appended to the error, so the report shows why.
export function withLogs(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const logs = describeAll();
      if (logs !== '') {
        const text = `\n\n=== process output ===\n${logs}`;
        // Reporters print the stack (captured with the original message).
        if (err && typeof err === 'object' && typeof err.stack === 'string') {
          try {
            err.stack += text;
          } catch {
            console.error(text);
          }
        } else {
          console.error(text);
        }
      }
      throw err;
    }
  };
}

// Last line of defence: never leave a child behind, even if the runner kills us.
function killAllNow() {
  for (const p of started) if (p.running) p.child.kill('SIGKILL');
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}
