/**
 * The geometry of a voxel grid as image_series and dose_grid store it (dim_x .. spacing_z_mm, origin and
 * direction arrays), and back: one mapping for every table that holds a grid.
 */
export interface GridGeometry {
  dims: [number, number, number];
  spacingMm: [number, number, number];
  /** centre of voxel (0, 0, 0), LPS mm */
  originLpsMm: number[];
  /** unit vectors of the i, j and k axes in LPS, three numbers each */
  directionLps: number[];
}

export interface GridColumns {
  dim_x: number;
  dim_y: number;
  dim_z: number;
  spacing_x_mm: number;
  spacing_y_mm: number;
  spacing_z_mm: number;
  origin_lps_mm: number[];
  direction_lps: number[];
}

export function gridColumns(grid: GridGeometry): GridColumns {
  return {
    dim_x: grid.dims[0],
    dim_y: grid.dims[1],
    dim_z: grid.dims[2],
    spacing_x_mm: grid.spacingMm[0],
    spacing_y_mm: grid.spacingMm[1],
    spacing_z_mm: grid.spacingMm[2],
    origin_lps_mm: grid.originLpsMm,
    direction_lps: grid.directionLps,
  };
}

export function gridOfColumns(row: GridColumns): GridGeometry {
  return {
    dims: [row.dim_x, row.dim_y, row.dim_z],
    spacingMm: [row.spacing_x_mm, row.spacing_y_mm, row.spacing_z_mm],
    originLpsMm: row.origin_lps_mm,
    directionLps: row.direction_lps,
  };
}
