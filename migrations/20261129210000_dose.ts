import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// The planned dose of a case: a dose grid in Gy on the frame of reference of one of its image series (an
// RTDOSE read at import), its voxels in a blob (float32 Gy, i fastest), and the prescription when an RT
// Plan or the importer said it. One row per RTDOSE object (its SOP Instance UID, pseudonymised).

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table dose_grid (
      id bigint generated always as identity primary key,
      case_id bigint not null references patient_case (id) on delete cascade,
      image_series_id bigint not null references image_series (id) on delete cascade,
      sop_instance_uid text not null unique,
      dim_x integer not null check (dim_x > 0),
      dim_y integer not null check (dim_y > 0),
      dim_z integer not null check (dim_z > 0),
      spacing_x_mm double precision not null check (spacing_x_mm > 0),
      spacing_y_mm double precision not null check (spacing_y_mm > 0),
      spacing_z_mm double precision not null check (spacing_z_mm > 0),
      -- centre of voxel (0, 0, 0)
      origin_lps_mm double precision[] not null check (cardinality(origin_lps_mm) = 3),
      -- unit vectors of the i, j and k axes in LPS, three numbers each
      direction_lps double precision[] not null check (cardinality(direction_lps) = 9),
      dose_blob_sha256 text not null references blob (sha256),
      dose_type text not null check (dose_type in ('PHYSICAL', 'EFFECTIVE', 'ERROR')),
      summation_type text not null,
      max_gy double precision not null,
      prescription_gy double precision check (prescription_gy > 0),
      fractions integer check (fractions > 0),
      created_at timestamptz not null default now()
    );
    create index dose_grid_case_idx on dose_grid (case_id);
    create index dose_grid_series_idx on dose_grid (image_series_id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table dose_grid;`.execute(db);
}
