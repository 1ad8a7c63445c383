import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// A version number of everything the analytics read, raised once by every transaction that changes any
// of it, so that answers computed from the data can be cached under the version they were computed at.
// The triggers are deferred to commit: the version row is locked only while committing, and a reader
// sees the new version exactly when it sees the new data.

const tables = [
  'metric',
  'contour_set',
  'patient_case',
  'cohort',
  'cohort_case',
  'editing_session',
  'consensus_rater',
  'acceptance_criterion',
  'alarm',
  'observer',
  'site',
  'structure',
  'model',
  'model_version',
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table analytics_version (
      singleton boolean primary key default true check (singleton),
      version bigint not null,
      changed_at timestamptz not null default now()
    );
    insert into analytics_version (version) values (1);
    create function bump_analytics_version() returns trigger language plpgsql as $$
    begin
      -- once per transaction, however many rows it writes
      if current_setting('contourbench.analytics_bumped', true) is distinct from txid_current()::text then
        update analytics_version set version = version + 1, changed_at = now();
        perform set_config('contourbench.analytics_bumped', txid_current()::text, true);
      end if;
      return null;
    end $$;
  `.execute(db);
  for (const table of tables)
    await sql`
      create constraint trigger ${sql.raw(`${table}_analytics_version`)}
      after insert or update or delete on ${sql.table(table)}
      deferrable initially deferred
      for each row execute function bump_analytics_version()
    `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of tables)
    await sql`drop trigger ${sql.raw(`${table}_analytics_version`)} on ${sql.table(table)}`.execute(db);
  await sql`drop function bump_analytics_version(); drop table analytics_version;`.execute(db);
}
