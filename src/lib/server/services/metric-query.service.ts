import { formatCsvRecord } from '../../core/csv/csv-record';
import { describeMetric, metricCatalogue } from '../../core/metrics/metric-catalogue';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import type { Db } from '../db/connection';
import { countMetricRows, findMetricRows, type MetricRowFilter } from '../repositories/analytics.repository';

type StoredRow = Awaited<ReturnType<typeof findMetricRows>>[number];

/** A stored row flattened: per-tolerance values as their own columns (surface_dice_2mm, apl_2mm). */
function flatten(row: StoredRow) {
  const { surfaceDice, aplContourMm, ...rest } = row;
  return {
    ...rest,
    ...Object.fromEntries(
      Object.entries(surfaceDice as Record<string, number | null>).map(([tau, v]) => [
        `surfaceDice${tau}mm`,
        v,
      ]),
    ),
    ...Object.fromEntries(
      Object.entries(aplContourMm as Record<string, number | null>).map(([tau, v]) => [`apl${tau}mm`, v]),
    ),
  };
}

/**
 * The stored metric rows under the filters, a page at a time (ordered by row id), with the total and the
 * definition of every metric column.
 */
export async function listMetricRows(
  db: Db,
  filter: MetricRowFilter,
  page: { limit: number; offset: number },
) {
  const [total, rows] = await Promise.all([countMetricRows(db, filter), findMetricRows(db, filter, page)]);
  return {
    definitionVersion: metricDefinitionVersion,
    definitions: [...metricCatalogue.values()].map(describeMetric),
    conventions:
      'R is the reference set, T the test set; volumes in cc, distances in mm; +∞ as "Infinity" (a missed structure), null where undefined',
    total,
    limit: page.limit,
    offset: page.offset,
    rows: rows.map(flatten),
  };
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (value === Infinity) return 'Infinity';
  if (Array.isArray(value)) return value.join(' ');
  return String(value);
}

/** The same page as CSV (header row, RFC 4180 quoting, empty for null). */
export async function metricRowsCsv(
  db: Db,
  filter: MetricRowFilter,
  page: { limit: number; offset: number },
) {
  const rows = (await findMetricRows(db, filter, page)).map(flatten);
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!);
  const lines = [formatCsvRecord(columns)];
  for (const row of rows)
    lines.push(formatCsvRecord(columns.map((c) => csvField((row as Record<string, unknown>)[c]))));
  return `${lines.join('\r\n')}\r\n`;
}
