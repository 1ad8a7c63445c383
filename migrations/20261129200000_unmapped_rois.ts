import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// The ROI names of an imported structure set that map to no TG-263 structure, kept with the set so that a
// cohort check can say which cases have structures under names nobody resolved.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table contour_set add column unmapped_roi_names text[] not null default '{}'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table contour_set drop column unmapped_roi_names`.execute(db);
}
