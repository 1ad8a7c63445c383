import type { Vec3 } from '../../src/lib/core/volume/volume';

/** ((Δi·si)² + (Δj·sj)²) + (Δk·sk)² under the root: the expression order of the kernels and of scipy. */
export function gridDistance(di: number, dj: number, dk: number, spacing: Vec3): number {
  const x = di * spacing[0];
  const y = dj * spacing[1];
  const z = dk * spacing[2];
  return Math.sqrt(x * x + y * y + z * z);
}
