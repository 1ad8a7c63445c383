import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppError } from '../lib/core/errors';
import type { Logger } from '../lib/server/logger';
import { projectRoot } from '../lib/server/paths';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void;

const buildInputs = ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package.json'];

function newestMtimeMs(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtimeMs(path.join(target, entry)));
  return newest;
}

/** True when build/handler.js is missing or older than any source it is built from. */
export function webBuildIsStale(root = projectRoot()): boolean {
  const handler = path.join(root, 'build', 'handler.js');
  if (!existsSync(handler)) return true;
  const built = statSync(handler).mtimeMs;
  return buildInputs.some((input) => newestMtimeMs(path.join(root, input)) > built);
}

/** Builds the SvelteKit app with Vite when the build is missing or stale. */
export async function ensureWebBuild(logger: Logger): Promise<void> {
  const root = projectRoot();
  if (!webBuildIsStale(root)) return;
  logger.info('building the web app (first start, or the sources changed); this takes about a minute');
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      cwd: root,
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new AppError('BUILD_FAILED', `vite build failed with exit code ${code}; see the output above`),
          ),
    );
  });
}

/** Serves the built SvelteKit app; resolves once listening. */
export async function startWebServer(options: {
  host: string;
  port: number;
  logger: Logger;
  /** Largest request body accepted (uploads). */
  maxUploadBytes: number;
}): Promise<{ url: string; close(): Promise<void> }> {
  const handlerFile = path.join(projectRoot(), 'build', 'handler.js');
  // adapter-node reads its request body limit (512 kB by default) when the handler loads
  process.env.BODY_SIZE_LIMIT ??= String(options.maxUploadBytes);
  // adapter-node takes the request's protocol from this header (https when it has none): a reverse
  // proxy terminating TLS sets it, a direct request is plain http; form actions compare origins with it
  process.env.PROTOCOL_HEADER ??= 'x-forwarded-proto';
  const { handler } = (await import(pathToFileURL(handlerFile).href)) as { handler: Handler };
  const server = http.createServer((req, res) => {
    req.headers['x-forwarded-proto'] ??= 'http';
    return handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new AppError(
              'CONFIG_INVALID',
              `Port ${options.port} on ${options.host} is in use: set PORT or --port`,
            )
          : error,
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  // how the server reaches itself (the PDF printer loads its own pages), whatever name users reach it by
  process.env.CONTOURBENCH_SELF_URL = `http://${shownHost === 'localhost' ? '127.0.0.1' : shownHost}:${port}`;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
