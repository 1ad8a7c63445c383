import { describe, expect, it } from 'vitest';
import { editingCsvColumns, formatCsvRecord, parseEditingCsv } from './editing-csv';

const header = editingCsvColumns.join(',');
const good =
  'SITE-A,P0001,RO1,Heart,editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,240,12,15,Eclipse';

/** A one-row file with the given columns replaced. */
function withRow(changes: Partial<Record<(typeof editingCsvColumns)[number], string>>): string {
  const values = good.split(',');
  editingCsvColumns.forEach((column, index) => {
    if (changes[column] !== undefined) values[index] = changes[column];
  });
  return `${header}\n${values.join(',')}\n`;
}

describe('parseEditingCsv', () => {
  it('parses a valid row into typed values', () => {
    const { rows, errors } = parseEditingCsv(`${header}\n${good}\n`, 'times.csv');
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      {
        line: 2,
        siteCode: 'SITE-A',
        casePseudonym: 'P0001',
        observerCode: 'RO1',
        structureName: 'Heart',
        mode: 'editing_ai',
        startedAt: new Date('2026-03-02T08:15:00Z'),
        endedAt: new Date('2026-03-02T08:19:30Z'),
        activeSeconds: 240,
        fromSetId: 12,
        toSetId: 15,
        tool: 'Eclipse',
      },
    ]);
  });

  it('accepts columns in any order, leaves out optional columns, and reads empty optionals as null', () => {
    const text = [
      'mode,observer,site,case,structure,started_at,ended_at,active_seconds',
      'from_scratch,RO2,SITE-B,P9,,2026-03-02T10:00:00Z,2026-03-02T10:30:00Z,1800',
    ].join('\n');
    const { rows, errors } = parseEditingCsv(text, 'x.csv');
    expect(errors).toEqual([]);
    expect(rows[0]).toMatchObject({
      siteCode: 'SITE-B',
      observerCode: 'RO2',
      structureName: null,
      mode: 'from_scratch',
      activeSeconds: 1800,
      fromSetId: null,
      toSetId: null,
      tool: null,
    });
    const empties = parseEditingCsv(withRow({ from_set: '', to_set: '', tool: '' }), 'x.csv');
    expect(empties.rows[0]).toMatchObject({ fromSetId: null, toSetId: null, tool: null });
  });

  it('handles quoted fields with commas, doubled quotes, newlines, CRLF and a byte-order mark', () => {
    const text =
      '\uFEFF' +
      `${header}\r\n` +
      `"SITE-A",P0001,RO1,"Heart",editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,240,,,"Eclipse, v16 ""beta""\r\nsecond line"\r\n` +
      `\r\n` +
      `SITE-A,P0002,RO1,Lung_L,editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,1.5e2,,,\r\n`;
    const { rows, errors } = parseEditingCsv(text, 'x.csv');
    expect(errors).toEqual([]);
    expect(rows.map((r) => [r.line, r.casePseudonym, r.tool, r.activeSeconds])).toEqual([
      [2, 'P0001', 'Eclipse, v16 "beta"\r\nsecond line', 240],
      [5, 'P0002', null, 150],
    ]);
  });

  it('counts physical lines so errors after a multi-line field point at the right line', () => {
    const text = `${header}\n${good.replace('Eclipse', '"a\nb\nc"')}\n${good.replace(',240,', ',-1,')}\n`;
    const { rows, errors } = parseEditingCsv(text, 'x.csv');
    expect(rows).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(5);
  });

  it('reports an empty file, and a header without rows', () => {
    expect(parseEditingCsv('', 'empty.csv')).toEqual({
      rows: [],
      errors: [{ line: 1, message: expect.stringMatching(/^empty\.csv is empty: expected a header/) }],
    });
    expect(parseEditingCsv('\n\r\n', 'blank.csv').errors[0].message).toMatch(/is empty/);
    expect(parseEditingCsv(`${header}\n`, 'h.csv').errors).toEqual([
      { line: 1, message: expect.stringMatching(/header but no rows/) },
    ]);
  });

  it('reports unknown, repeated and missing columns in the header', () => {
    const { rows, errors } = parseEditingCsv(
      'site,case,observer,observer,mode,started_at,ended_at,active_seconds,colour\nA,B,C,C,D,E,F,G,H\n',
      'h.csv',
    );
    expect(rows).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(1);
    expect(errors[0].message).toContain('unknown column "colour"');
    expect(errors[0].message).toContain('column "observer" appears twice');
    expect(errors[0].message).toContain('missing column "structure"');
  });

  it('reports a wrong number of fields', () => {
    const { errors } = parseEditingCsv(`${header}\nSITE-A,P1,RO1\n`, 'f.csv');
    expect(errors).toEqual([
      { line: 2, message: 'f.csv line 2: expected 11 fields as in the header, got 3' },
    ]);
  });

  it('reports CSV syntax errors: unclosed quote, text after a quote, quote inside an unquoted field', () => {
    expect(parseEditingCsv(`${header}\n${good}\n"SITE-A,P2\n`, 'q.csv').errors).toEqual([
      { line: 3, message: 'q.csv line 3: a quoted field is not closed (missing ")' },
    ]);
    expect(parseEditingCsv(withRow({ site: '"SITE-A"x' }), 'q.csv').errors[0]).toEqual({
      line: 2,
      message: 'q.csv line 2: unexpected text after a closing quote: "x"',
    });
    expect(parseEditingCsv(withRow({ tool: 'Ecl"ipse' }), 'q.csv').errors[0].message).toMatch(
      /^q\.csv line 2: a quote inside an unquoted field/,
    );
  });

  const invalid: Array<[string, Parameters<typeof withRow>[0], string]> = [
    ['empty site', { site: '' }, 'column site: expected a value'],
    ['empty case', { case: '' }, 'column case: expected a value'],
    ['empty observer', { observer: ' ' }, 'column observer: expected a value'],
    [
      'unknown mode',
      { mode: 'ai' },
      'column mode: expected from_scratch, editing_ai or editing_other, got "ai"',
    ],
    ['time without offset', { started_at: '2026-03-02T09:15:00' }, 'column started_at: expected an ISO 8601'],
    ['not a time', { ended_at: 'yesterday' }, 'column ended_at: expected an ISO 8601'],
    [
      'end before start',
      { ended_at: '2026-03-02T09:00:00+01:00' },
      'column ended_at: expected a time not before started_at',
    ],
    [
      'negative seconds',
      { active_seconds: '-5' },
      'column active_seconds: expected a number of seconds >= 0',
    ],
    ['text seconds', { active_seconds: 'ten' }, 'column active_seconds: expected a number of seconds >= 0'],
    ['missing seconds', { active_seconds: '' }, 'column active_seconds: expected a number of seconds >= 0'],
    [
      'more active than elapsed',
      { active_seconds: '271' },
      'column active_seconds: expected at most 270 (ended_at - started_at in seconds)',
    ],
    ['bad from_set', { from_set: '0' }, 'column from_set: expected a contour set id'],
    ['bad to_set', { to_set: 'abc' }, 'column to_set: expected a contour set id'],
  ];
  it.each(invalid)('reports %s with the line and the column', (_name, changes, expected) => {
    const { rows, errors } = parseEditingCsv(withRow(changes), 'v.csv');
    expect(rows).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(2);
    expect(errors[0].message).toContain(`v.csv line 2, ${expected}`);
  });

  it('accepts active_seconds equal to the elapsed time and Z timestamps', () => {
    const { rows, errors } = parseEditingCsv(
      withRow({ started_at: '2026-03-02T08:15:00Z', active_seconds: '270' }),
      'v.csv',
    );
    expect(errors).toEqual([]);
    expect(rows[0].activeSeconds).toBe(270);
  });

  it('reports every bad row and keeps the good ones', () => {
    const text = [header, good, good.replace('editing_ai', 'manual'), good, good.replace('RO1', '')].join(
      '\n',
    );
    const { rows, errors } = parseEditingCsv(text, 'm.csv');
    expect(rows.map((r) => r.line)).toEqual([2, 4]);
    expect(errors.map((e) => e.line)).toEqual([3, 5]);
  });
});

describe('formatCsvRecord', () => {
  it('quotes fields with commas, quotes or line breaks and doubles quotes', () => {
    expect(formatCsvRecord(['a', 'b,c', 'say "hi"', 'x\ny', ''])).toBe('a,"b,c","say ""hi""","x\ny",');
  });
});
