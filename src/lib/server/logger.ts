import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One pino logger per process. JSON lines by default (for log shippers); pretty, human-readable lines
 * when stdout is a terminal.
 */
export function createLogger(level: string, name = 'contourbench'): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  return pino({
    name,
    level,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,name' } } }
      : {}),
  });
}
