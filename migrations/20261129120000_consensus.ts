import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// STAPLE consensus: each rater's estimated performance for the consensus of one structure.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table consensus_rater (
      consensus_set_id bigint not null references contour_set (id) on delete cascade,
      structure_id bigint not null references structure (id),
      rater_set_id bigint not null references contour_set (id) on delete cascade,
      sensitivity double precision not null check (sensitivity >= 0 and sensitivity <= 1),
      specificity double precision not null check (specificity >= 0 and specificity <= 1),
      -- the EM run that produced the estimate (shared by the raters of one structure)
      prior double precision not null check (prior >= 0 and prior <= 1),
      iterations integer not null check (iterations >= 0),
      converged boolean not null,
      computed_at timestamptz not null default now(),
      primary key (consensus_set_id, structure_id, rater_set_id)
    );
    create index consensus_rater_rater_idx on consensus_rater (rater_set_id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table consensus_rater;`.execute(db);
}
