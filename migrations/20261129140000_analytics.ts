import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// Acceptance criteria of model commissioning: per structure (or every structure), a threshold on one
// metric that a required share of cases must meet. Named sets, so a department keeps its own.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table acceptance_criterion (
      id bigint generated always as identity primary key,
      criteria_set text not null check (length(criteria_set) between 1 and 128),
      -- null: the criterion applies to every structure without one of its own for the metric
      structure_id bigint references structure (id),
      metric text not null,
      comparator text not null check (comparator in ('>=', '<=')),
      threshold double precision not null,
      min_pass_rate double precision not null default 1 check (min_pass_rate > 0 and min_pass_rate <= 1),
      note text not null default '',
      created_at timestamptz not null default now(),
      created_by bigint references app_user (id),
      constraint acceptance_criterion_key unique nulls not distinct (criteria_set, structure_id, metric)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table acceptance_criterion;`.execute(db);
}
