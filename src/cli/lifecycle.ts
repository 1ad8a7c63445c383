import type { Logger } from '../lib/server/logger';

/**
 * Runs `shutdown` on the first SIGINT or SIGTERM and exits when it settles; a second signal exits at
 * once. Returns a promise that never settles, so a command can await it to keep running.
 */
export function runUntilSignal(logger: Logger, shutdown: () => Promise<void>): Promise<never> {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // The embedded Postgres package installs exit hooks that stop the server on these signals, in parallel
  // with (and so before) the web server and worker finishing their work; this process orders it instead.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<never>(() => {});
}
