/**
 * Okabe-Ito: eight colours distinguishable with the common colour-vision deficiencies (Okabe and Ito
 * 2008). Series take them in order; black is last so it stays for references.
 */
export const okabeIto = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#f0e442',
  '#000000',
];

/** The colour of the i-th series. */
export function seriesColour(i: number): string {
  return okabeIto[i % okabeIto.length]!;
}

/** Numbers as the charts print them: 3 significant digits, +∞ as ∞, null as a dash. */
export function formatValue(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value === Infinity) return '∞';
  if (value === -Infinity) return '−∞';
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

/** A p value as a reader expects it: "< 0.001" below a thousandth. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}
