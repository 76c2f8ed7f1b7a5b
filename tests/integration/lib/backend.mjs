// Starts mcp-add-server on a loopback port.
import { BACKEND_BIN, requireFile } from './env.mjs';
import { startProcess } from './processes.mjs';

// port 0: the server picks one and reports it on its "listening on" line.
export async function startBackend({ port = 0, sse = false, path, timeoutMs = 10000 } = {}) {
  const args = ['--listen', `127.0.0.1:${port}`];
  if (path) args.push('--path', path);
  if (sse) args.push('--sse');
  const proc = await startProcess(sse ? 'mcp-add-server --sse' : 'mcp-add-server', requireFile(BACKEND_BIN, 'mcp-add-server'), args, {
    timeoutMs,
  });
  const origin = `http://127.0.0.1:${proc.port}`;
  return { proc, port: proc.port, origin, url: `${origin}${path ?? '/mcp'}` };
}
