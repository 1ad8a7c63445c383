import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One pino logger per process. JSON lines by default (for log shippers); pretty, human-readable lines
 * when the output is a terminal. Services log to stdout; a command whose stdout is its answer (a table,
 * JSON) logs to stderr instead, so the answer can be piped.
 */
export function createLogger(
  level: string,
  name = 'contourbench',
  output: 'stdout' | 'stderr' = 'stdout',
): Logger {
  const stream = output === 'stdout' ? process.stdout : process.stderr;
  const pretty = stream.isTTY && process.env.NODE_ENV !== 'production';
  const fd = output === 'stdout' ? 1 : 2;
  if (pretty)
    return pino({
      name,
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname,name', destination: fd },
      },
    });
  return pino({ name, level }, pino.destination({ fd, sync: true }));
}
