import { z } from 'zod';

/*
 * Editing-time CSV: how long physicians spend contouring from scratch or correcting AI contours.
 *
 * RFC 4180: comma-separated, fields may be double-quoted (then they may hold commas, line breaks and
 * doubled quotes ""), lines end in LF or CRLF, a UTF-8 byte-order mark is ignored. The first record is the
 * header; column order is free, names are case-sensitive, unknown or repeated columns are an error; optional
 * columns may be left out of the header. Unquoted and quoted values are trimmed; an empty value of an
 * optional column means "none". Blank lines are skipped. Line numbers in errors are physical lines of the
 * file (the header is line 1), the line where the record starts.
 *
 * | column         | required | meaning                                                                    |
 * |----------------|----------|----------------------------------------------------------------------------|
 * | site           | yes      | site code (as created with `contourbench site` or import)                  |
 * | case           | yes      | case pseudonym at that site                                                |
 * | observer       | yes      | observer (physician) code at that site                                     |
 * | structure      | yes      | TG-263 name of the structure; empty for a session covering the whole case  |
 * | mode           | yes      | from_scratch, editing_ai or editing_other                                  |
 * | started_at     | yes      | ISO 8601 date-time with Z or offset, e.g. 2026-03-02T09:15:00+01:00        |
 * | ended_at       | yes      | ISO 8601 date-time with Z or offset, not before started_at                 |
 * | active_seconds | yes      | seconds of active work, a number >= 0 and <= ended_at - started_at         |
 * | from_set       | no       | id of the contour set that was edited (the AI set for editing_ai)          |
 * | to_set         | no       | id of the resulting contour set                                            |
 * | tool           | no       | contouring tool or software, free text                                     |
 *
 * Example:
 *   site,case,observer,structure,mode,started_at,ended_at,active_seconds,from_set,to_set,tool
 *   SITE-A,P0001,RO1,Heart,editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,240,12,15,Eclipse
 */

/** One validated row of an editing-time CSV. */
export interface EditingRow {
  /** Physical line where the record starts (header = 1). */
  line: number;
  siteCode: string;
  casePseudonym: string;
  observerCode: string;
  /** TG-263 name, or null for a session covering the whole case. */
  structureName: string | null;
  mode: 'from_scratch' | 'editing_ai' | 'editing_other';
  startedAt: Date;
  endedAt: Date;
  activeSeconds: number;
  fromSetId: number | null;
  toSetId: number | null;
  tool: string | null;
}

/** A problem in the file: its line and what is wrong, naming the column and what was expected. */
export interface EditingCsvError {
  line: number;
  message: string;
}

/** Columns of the editing CSV in their documented order. */
export const editingCsvColumns = [
  'site',
  'case',
  'observer',
  'structure',
  'mode',
  'started_at',
  'ended_at',
  'active_seconds',
  'from_set',
  'to_set',
  'tool',
] as const;

type Column = (typeof editingCsvColumns)[number];

const optionalColumns: ReadonlySet<Column> = new Set(['from_set', 'to_set', 'tool']);

const requiredText = z.string().min(1, 'expected a value');
const isoDateTime = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 date-time with Z or an offset, e.g. 2026-03-02T09:15:00+01:00',
});
const setId = z
  .string()
  .regex(/^([1-9][0-9]{0,14})?$/, 'expected a contour set id (a positive whole number) or nothing')
  .transform((value) => (value === '' ? null : Number(value)));

const rowSchema = z
  .object({
    site: requiredText,
    case: requiredText,
    observer: requiredText,
    structure: z.string(),
    mode: z.enum(['from_scratch', 'editing_ai', 'editing_other'], {
      error: 'expected from_scratch, editing_ai or editing_other',
    }),
    started_at: isoDateTime,
    ended_at: isoDateTime,
    active_seconds: z
      .string()
      .regex(/^[+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/, 'expected a number of seconds >= 0')
      .transform(Number)
      .refine((n) => Number.isFinite(n), 'expected a finite number of seconds'),
    from_set: setId,
    to_set: setId,
    tool: z.string(),
  })
  .superRefine((row, ctx) => {
    // zod still runs this refinement when a field failed: compare only valid values
    if (!isoDateTime.safeParse(row.started_at).success || !isoDateTime.safeParse(row.ended_at).success)
      return;
    const started = Date.parse(row.started_at);
    const ended = Date.parse(row.ended_at);
    if (ended < started) {
      ctx.addIssue({
        code: 'custom',
        path: ['ended_at'],
        message: `expected a time not before started_at (${row.started_at})`,
      });
    } else if (typeof row.active_seconds === 'number' && row.active_seconds > (ended - started) / 1000) {
      ctx.addIssue({
        code: 'custom',
        path: ['active_seconds'],
        message: `expected at most ${(ended - started) / 1000} (ended_at - started_at in seconds)`,
      });
    }
  });

/** A CSV record: its fields and the physical line where it starts. */
interface CsvRecord {
  line: number;
  fields: string[];
}

/** Everything up to the next comma or line break. */
const unquotedValue = /[^,\r\n]*/y;

/** The match of a sticky pattern at `position` ('' when none), without copying the rest of the text. */
function matchAt(pattern: RegExp, text: string, position: number): string {
  pattern.lastIndex = position;
  return pattern.exec(text)?.[0] ?? '';
}

/**
 * Splits RFC 4180 text into records. Returns the records and syntax errors (unterminated quote, text after
 * a closing quote). Line breaks (LF, CRLF or CR) inside quotes stay in the field as written.
 */
function readCsvRecords(text: string): { records: CsvRecord[]; errors: EditingCsvError[] } {
  const records: CsvRecord[] = [];
  const errors: EditingCsvError[] = [];
  let line = 1;
  let position = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (position < text.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let broken = false;
    for (;;) {
      if (text[position] === '"') {
        // quoted field
        position++;
        let closed = false;
        while (position < text.length) {
          const c = text[position];
          if (c === '"') {
            if (text[position + 1] === '"') {
              field += '"';
              position += 2;
              continue;
            }
            position++;
            closed = true;
            break;
          }
          if (c === '\n' || (c === '\r' && text[position + 1] !== '\n')) line++;
          field += c;
          position++;
        }
        if (!closed) {
          errors.push({ line: startLine, message: 'a quoted field is not closed (missing ")' });
          return { records, errors };
        }
        const rest = matchAt(unquotedValue, text, position);
        if (rest.trim() !== '' && !broken) {
          errors.push({ line, message: `unexpected text after a closing quote: ${JSON.stringify(rest)}` });
          broken = true;
        }
        position += rest.length;
      } else {
        const value = matchAt(unquotedValue, text, position);
        if (value.includes('"') && !broken) {
          errors.push({
            line,
            message: 'a quote inside an unquoted field (quote the whole field and double the ")',
          });
          broken = true;
        }
        field = value;
        position += value.length;
      }
      fields.push(field.trim());
      field = '';
      if (text[position] === ',') {
        position++;
        continue;
      }
      // end of record: line break or end of text
      if (text[position] === '\r') position++;
      if (text[position] === '\n') position++;
      line++;
      break;
    }
    if (broken) continue;
    if (fields.length === 1 && fields[0] === '') continue; // blank line
    records.push({ line: startLine, fields });
  }
  return { records, errors };
}

export { formatCsvRecord } from '../csv/csv-record';

/** The first C0 control or DEL in `value` other than tab and line breaks (which quoted fields may hold), or -1. */
function controlCharacter(value: string): number {
  for (let n = 0; n < value.length; n++) {
    const code = value.charCodeAt(n);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return code;
  }
  return -1;
}

/**
 * Parses and validates an editing-time CSV (columns documented at the top of this file). `source` names
 * the file in messages. Every problem is reported with its line: syntax, header (missing required,
 * unknown or repeated columns), field count, and each invalid value with its column and what was expected.
 * Rows with a problem are left out of `rows`. An empty file (no header) is an error.
 */
export function parseEditingCsv(
  text: string,
  source: string,
): { rows: EditingRow[]; errors: EditingCsvError[] } {
  const read = readCsvRecords(text);
  const records = read.records;
  const errors = read.errors.map((e) => ({
    line: e.line,
    message: `${source} line ${e.line}: ${e.message}`,
  }));
  const rows: EditingRow[] = [];
  if (records.length === 0) {
    if (errors.length === 0) {
      errors.push({
        line: 1,
        message: `${source} is empty: expected a header line (${editingCsvColumns.join(',')}) and rows`,
      });
    }
    return { rows, errors };
  }
  const [header, ...body] = records;
  const known = new Set<string>(editingCsvColumns);
  const seen = new Set<string>();
  const headerErrors: string[] = [];
  for (const name of header.fields) {
    if (!known.has(name)) headerErrors.push(`unknown column "${name}"`);
    else if (seen.has(name)) headerErrors.push(`column "${name}" appears twice`);
    seen.add(name);
  }
  for (const column of editingCsvColumns) {
    if (!optionalColumns.has(column) && !seen.has(column)) headerErrors.push(`missing column "${column}"`);
  }
  if (headerErrors.length > 0) {
    errors.push({
      line: header.line,
      message: `${source} line ${header.line} (header): ${headerErrors.join('; ')} (expected the columns ${editingCsvColumns.join(',')}; from_set, to_set and tool may be left out)`,
    });
    return { rows, errors: errors.sort((a, b) => a.line - b.line) };
  }
  if (body.length === 0 && errors.length === 0) {
    errors.push({
      line: header.line,
      message: `${source} has a header but no rows: expected at least one session`,
    });
  }

  for (const record of body) {
    if (record.fields.length !== header.fields.length) {
      errors.push({
        line: record.line,
        message: `${source} line ${record.line}: expected ${header.fields.length} fields as in the header, got ${record.fields.length}`,
      });
      continue;
    }
    const raw: Record<string, string> = { from_set: '', to_set: '', tool: '' };
    header.fields.forEach((name, index) => (raw[name] = record.fields[index]));
    const controls = header.fields.filter((name) => controlCharacter(raw[name]) >= 0);
    if (controls.length > 0) {
      for (const column of controls) {
        const code = controlCharacter(raw[column]);
        errors.push({
          line: record.line,
          message: `${source} line ${record.line}, column ${column}: holds the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`,
        });
      }
      continue;
    }
    const parsed = rowSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const column = String(issue.path[0] ?? '');
        const value = raw[column];
        errors.push({
          line: record.line,
          message: `${source} line ${record.line}, column ${column}: ${issue.message}${value === undefined || value === '' ? '' : `, got ${JSON.stringify(value)}`}`,
        });
      }
      continue;
    }
    const row = parsed.data;
    rows.push({
      line: record.line,
      siteCode: row.site,
      casePseudonym: row.case,
      observerCode: row.observer,
      structureName: row.structure === '' ? null : row.structure,
      mode: row.mode,
      startedAt: new Date(row.started_at),
      endedAt: new Date(row.ended_at),
      activeSeconds: row.active_seconds,
      fromSetId: row.from_set,
      toSetId: row.to_set,
      tool: row.tool === '' ? null : row.tool,
    });
  }
  return { rows, errors: errors.sort((a, b) => a.line - b.line) };
}
