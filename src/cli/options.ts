import { z } from 'zod';
import { AppError } from '../lib/core/errors';

/** Validates a CLI option with zod; the error names the option and the value given. */
export function parseOption<T>(schema: z.ZodType<T>, option: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new AppError('INVALID_ARGUMENT', `${option} ${JSON.stringify(value)}: ${reason}`);
  }
  return parsed.data;
}

export const positiveInteger = (max: number) =>
  z.coerce
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .max(max, `expected at most ${max}`);

export const portNumber = z.coerce
  .number({ error: 'expected a port number' })
  .int('expected a whole number')
  .min(1, 'expected a port between 1 and 65535')
  .max(65535, 'expected a port between 1 and 65535');

/** Commander's collector of a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Rows as plain-text columns, the first row the header. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
