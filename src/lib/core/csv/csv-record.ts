/** One CSV record (no line end): a field holding a comma, quote or line break is quoted, quotes doubled. */
export function formatCsvRecord(values: readonly string[]): string {
  return values
    .map((value) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value))
    .join(',');
}
