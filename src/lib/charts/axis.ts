/** What an axis needs of a d3 scale: continuous scales give ticks, band scales a bandwidth. */
export type AxisScale = ((value: never) => number | undefined) & {
  ticks?: (count: number) => unknown[];
  domain: () => unknown[];
  bandwidth?: () => number;
};
