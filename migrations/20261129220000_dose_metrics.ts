import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// The dose each contour receives: per contour (set and structure) on a case's planned dose, the dose metrics
// of its structure and its cumulative DVH, keyed by the mask's content so a changed contour is computed
// again. Beside every metric row, the dose consequence of the contour difference (test minus reference).

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table dose_metric (
      id bigint generated always as identity primary key,
      dose_grid_id bigint not null references dose_grid (id) on delete cascade,
      contour_set_id bigint not null references contour_set (id) on delete cascade,
      structure_id bigint not null references structure (id),
      mask_blob_sha256 text not null references blob (sha256),
      definition_version text not null,
      volume_cc double precision not null check (volume_cc >= 0),
      outside_dose_cc double precision not null check (outside_dose_cc >= 0),
      metric_values jsonb not null,
      dvh_bin_width_gy double precision not null check (dvh_bin_width_gy > 0),
      dvh_cumulative_pct real[] not null,
      computed_at timestamptz not null default now(),
      constraint dose_metric_natural_key unique (dose_grid_id, contour_set_id, structure_id, definition_version)
    );
    create index dose_metric_contour_set on dose_metric (contour_set_id);
    alter table metric add column dose_delta jsonb;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table metric drop column dose_delta;
    drop table dose_metric;
  `.execute(db);
}
