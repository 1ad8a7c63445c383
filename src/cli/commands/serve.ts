import type { Command } from 'commander';
import { loadConfig } from '../../lib/server/config';
import { createLogger } from '../../lib/server/logger';
import { shareRuntime, startRuntime, type Runtime } from '../../lib/server/runtime';
import { runUntilSignal } from '../lifecycle';
import { parseOption, portNumber } from '../options';
import { ensureWebBuild, startWebServer } from '../web-server';

export interface ServeOptions {
  port?: string;
  host?: string;
  worker: boolean;
  /** Printed after the URL, e.g. what the demo loaded. */
  banner?: string;
  /** A runtime already started (the demo's); otherwise one is started here. */
  runtime?: Promise<Runtime>;
}

/** Starts the database, migrations, the in-process worker and the web server; runs until a signal. */
export async function serve(options: ServeOptions): Promise<never> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const port = options.port === undefined ? config.port : parseOption(portNumber, '--port', options.port);
  const host = options.host ?? config.host;

  await ensureWebBuild(logger);
  const runtime =
    options.runtime ??
    startRuntime({
      config,
      logger,
      worker: options.worker && config.inProcessWorker,
      applicationName: 'contourbench-web',
    });
  shareRuntime(runtime);
  const { embedded, worker, close } = await runtime;
  const web = await startWebServer({ host, port, logger, maxUploadBytes: config.maxUploadBytes });
  logger.debug(
    { database: embedded ? 'embedded' : 'external', worker: worker ? 'in-process' : 'none' },
    `ContourBench is running at ${web.url}`,
  );
  process.stdout.write(
    `\nContourBench is running at ${web.url}\n${options.banner ?? ''}Press Ctrl+C to stop.\n\n`,
  );
  return runUntilSignal(logger, async () => {
    await web.close();
    await close();
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the web server with an in-process job worker (what `npm start` runs)')
    .option('-p, --port <port>', 'port to listen on (default: PORT or 3000)')
    .option('--host <host>', 'address to listen on (default: HOST or 127.0.0.1)')
    .option('--no-worker', 'do not run a job worker inside the web server')
    .action((options: ServeOptions) => serve(options));
}
