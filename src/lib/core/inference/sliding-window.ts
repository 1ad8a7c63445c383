/**
 * Sliding-window tiling as nnU-Net does it: along an axis of size n with patch p and overlap f, the
 * windows start at evenly spaced positions from 0 to n - p, as few as keep each step at most p (1 - f).
 * An axis shorter than its patch is padded (the caller pads; here the single window starts at 0).
 */
export function windowStarts(size: number, patch: number, overlap: number): number[] {
  if (size <= patch) return [0];
  const maxStep = Math.max(1, Math.floor(patch * (1 - overlap)));
  const steps = Math.ceil((size - patch) / maxStep) + 1;
  const span = size - patch;
  return Array.from({ length: steps }, (_, i) => Math.round((i * span) / (steps - 1)));
}

/** A window's start [d, h, w] and whether any other window of the grid shares a voxel with it. */
export interface GridWindow {
  start: [number, number, number];
  /** no other window overlaps this one: its outputs need no weighting */
  alone: boolean;
}

/**
 * Every window's start [d, h, w] over a padded volume of size [D, H, W] with patch [pd, ph, pw], in
 * d, h, w order. Windows on a grid overlap only their neighbours along an axis, so a window is alone when
 * the starts before and after it along each axis are at least a patch away.
 */
export function windowGrid(
  size: readonly [number, number, number],
  patch: readonly [number, number, number],
  overlap: number,
): GridWindow[] {
  const axes = [
    windowStarts(size[0], patch[0], patch[0] === 1 ? 0 : overlap),
    windowStarts(size[1], patch[1], overlap),
    windowStarts(size[2], patch[2], overlap),
  ];
  const apart = axes.map((starts, axis) =>
    starts.map(
      (s, i) =>
        (i === 0 || s >= starts[i - 1]! + patch[axis]!) &&
        (i === starts.length - 1 || starts[i + 1]! >= s + patch[axis]!),
    ),
  );
  const out: GridWindow[] = [];
  axes[0]!.forEach((d, a) =>
    axes[1]!.forEach((h, b) =>
      axes[2]!.forEach((w, c) =>
        out.push({ start: [d, h, w], alone: apart[0]![a]! && apart[1]![b]! && apart[2]![c]! }),
      ),
    ),
  );
  return out;
}

/**
 * The Gaussian importance map of a patch [pd, ph, pw] (w fastest): sigma = scale x patch size per axis,
 * centred, scaled to a maximum of 1, zeros raised to the smallest positive value (nnU-Net), so every
 * voxel has weight. A scale of 0 gives a flat map of ones.
 */
export function gaussianImportance(
  patch: readonly [number, number, number],
  sigmaScale: number,
): Float32Array {
  const [pd, ph, pw] = patch;
  const map = new Float32Array(pd * ph * pw);
  if (sigmaScale === 0) return map.fill(1);
  const axis = (n: number) =>
    Float64Array.from({ length: n }, (_, i) => {
      const sigma = n * sigmaScale;
      const x = i - (n - 1) / 2;
      return n === 1 ? 1 : Math.exp(-(x * x) / (2 * sigma * sigma));
    });
  const gd = axis(pd);
  const gh = axis(ph);
  const gw = axis(pw);
  let max = 0;
  let o = 0;
  for (let d = 0; d < pd; d += 1)
    for (let h = 0; h < ph; h += 1)
      for (let w = 0; w < pw; w += 1, o += 1) {
        const v = gd[d]! * gh[h]! * gw[w]!;
        map[o] = v;
        if (v > max) max = v;
      }
  let minPositive = Infinity;
  for (let i = 0; i < map.length; i += 1) {
    map[i] = map[i]! / max;
    if (map[i]! > 0 && map[i]! < minPositive) minPositive = map[i]!;
  }
  for (let i = 0; i < map.length; i += 1) if (map[i] === 0) map[i] = minPositive;
  return map;
}
