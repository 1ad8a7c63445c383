import { describe, expect, it } from 'vitest';
import { editingCsvColumns, parseEditingCsv } from '../../src/lib/core/editing/editing-csv';
import { mulberry32 } from '../helpers/random';

/*
 * The editing-time CSV parser on hostile text: seeded mutations of a valid file and hand-made extremes.
 * It must never throw, must finish in bounded time, and every problem must name the file and a line that
 * exists, and the column when one value is at fault.
 */

const header = editingCsvColumns.join(',');
const rows = [
  'SITE-A,P0001,RO1,Heart,editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,240,12,15,Eclipse',
  'SITE-A,P0002,RO1,Lung_L,from_scratch,2026-03-02T10:00:00Z,2026-03-02T10:30:00Z,1500.5,,,"Monaco, 6"',
  'SITE-B,P0003,RO2,,editing_other,2026-03-03T10:00:00Z,2026-03-03T10:10:00Z,0,,,',
];
const valid = `${header}\r\n${rows.join('\r\n')}\r\n`;
const source = 'times.csv';
const BOUND_MS = 2_000;

const hostileStrings = [
  '\u0000',
  '"',
  '""',
  ',',
  '\n',
  '\r',
  '\r\n',
  '\uFEFF',
  '\uD800',
  '💥',
  'NaN',
  '1e400',
  '-0',
  '9999999999999999',
  '2026-02-30T00:00:00Z',
  '0000-01-01T00:00:00Z',
  'x'.repeat(5000),
];

function mutate(text: string, random: () => number): { text: string; description: string } {
  const at = Math.floor(random() * (text.length + 1));
  switch (Math.floor(random() * 6)) {
    case 0: {
      const inserted = hostileStrings[Math.floor(random() * hostileStrings.length)]!;
      return {
        text: text.slice(0, at) + inserted + text.slice(at),
        description: `insert ${JSON.stringify(inserted.slice(0, 20))} at ${at}`,
      };
    }
    case 1: {
      const count = 1 + Math.floor(random() * 20);
      return { text: text.slice(0, at) + text.slice(at + count), description: `delete ${count} at ${at}` };
    }
    case 2:
      return { text: text.slice(0, at), description: `truncate to ${at}` };
    case 3: {
      const code = Math.floor(random() * 128);
      return {
        text: text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1),
        description: `char ${at} := U+${code.toString(16)}`,
      };
    }
    case 4: {
      // replace one field of one data line
      const lines = text.split('\r\n');
      const line = 1 + Math.floor(random() * Math.max(1, lines.length - 2));
      const fields = (lines[line] ?? '').split(',');
      const field = Math.floor(random() * fields.length);
      fields[field] = hostileStrings[Math.floor(random() * hostileStrings.length)]!;
      lines[line] = fields.join(',');
      return { text: lines.join('\r\n'), description: `line ${line + 1} field ${field + 1} replaced` };
    }
    default: {
      const lines = text.split('\r\n');
      const from = Math.floor(random() * lines.length);
      lines.splice(Math.floor(random() * lines.length), 0, lines[from]!);
      return { text: lines.join('\r\n'), description: `line ${from + 1} repeated` };
    }
  }
}

const linePattern = String.raw`times\.csv line \d+`;
/** Every message names the file and line; a value's problem also its column. */
const messageForms = [
  new RegExp(`^${linePattern}, column [a-z_]+: `),
  new RegExp(`^${linePattern} \\(header\\): `),
  new RegExp(`^${linePattern}: expected \\d+ fields as in the header, got \\d+$`),
  new RegExp(
    `^${linePattern}: (a quoted field is not closed|unexpected text after a closing quote|a quote inside an unquoted field)`,
  ),
  /^times\.csv (is empty|has a header but no rows)/,
];

function problems(text: string, description: string): string[] {
  const started = performance.now();
  let result: ReturnType<typeof parseEditingCsv>;
  try {
    result = parseEditingCsv(text, source);
  } catch (error) {
    return [`${description}: threw ${String(error)}`];
  }
  const found: string[] = [];
  const elapsed = performance.now() - started;
  if (elapsed > BOUND_MS) found.push(`${description}: took ${Math.round(elapsed)} ms`);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const error of result.errors) {
    if (!(error.line >= 1 && error.line <= lines))
      found.push(`${description}: line ${error.line} of ${lines}`);
    if (!messageForms.some((form) => form.test(error.message)))
      found.push(`${description}: ${JSON.stringify(error.message)} names no line or column`);
  }
  for (const row of result.rows) {
    if (!Number.isFinite(row.activeSeconds) || row.activeSeconds < 0)
      found.push(`${description}: active ${row.activeSeconds}`);
    if (!(row.endedAt.getTime() >= row.startedAt.getTime()))
      found.push(`${description}: ended before started`);
  }
  return found;
}

describe('editing CSV on hostile text', () => {
  it('ends every mutated file in rows or errors naming the file, line and column', () => {
    const random = mulberry32(2026);
    const found: string[] = [];
    let variants = 0;
    for (let n = 0; n < 600; n++) {
      let text = valid;
      const steps: string[] = [];
      for (let k = 0, count = 1 + Math.floor(random() * 3); k < count; k++) {
        const mutated = mutate(text, random);
        text = mutated.text;
        steps.push(mutated.description);
      }
      variants++;
      found.push(...problems(text, `variant ${n} (${steps.join('; ')})`));
    }
    expect(variants).toBe(600);
    expect(found).toEqual([]);
  });

  it('reads a field far longer than any real one as one field, and counts lines after it', () => {
    const long = 'x'.repeat(250_000);
    const text = `${header}\n${rows[0]!.replace('Eclipse', long)}\n${rows[1]!.replace(',1500.5,', ',-3,')}\n`;
    const { rows: read, errors } = parseEditingCsv(text, source);
    expect(read.map((r) => [r.line, r.tool?.length])).toEqual([[2, 250_000]]);
    expect(errors).toEqual([
      {
        line: 3,
        message: expect.stringMatching(/^times\.csv line 3, column active_seconds: expected a number/),
      },
    ]);
  });

  it('refuses control characters, naming the column, where a database would fail on them', () => {
    const text = `${header}\n${rows[0]!.replace('Eclipse', 'Ecl\u0000ipse').replace('RO1', 'R\u0007O1')}\n`;
    const { rows: read, errors } = parseEditingCsv(text, source);
    expect(read).toEqual([]);
    expect(errors).toEqual([
      { line: 2, message: 'times.csv line 2, column observer: holds the control character U+0007' },
      { line: 2, message: 'times.csv line 2, column tool: holds the control character U+0000' },
    ]);
  });

  it('survives a header of many unknown columns and a file of only quotes', () => {
    const wide = `${header},${Array.from({ length: 20_000 }, (_, n) => `c${n}`).join(',')}\n${rows[0]}\n`;
    const started = performance.now();
    const result = parseEditingCsv(wide, source);
    expect(performance.now() - started).toBeLessThan(BOUND_MS);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.message).toMatch(/^times\.csv line 1 \(header\): unknown column "c0"/);
    expect(parseEditingCsv('"'.repeat(100_001), source).errors[0]!.message).toMatch(/^times\.csv line 1: /);
  });
});
