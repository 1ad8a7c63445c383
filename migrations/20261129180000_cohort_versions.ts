import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// Frozen cohort versions: the cases and, per case and structure, the reference contour set chosen by the
// version's reference policy, with a sha256 over that content. A version never changes once written.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table cohort_version (
      id bigint generated always as identity primary key,
      cohort_id bigint not null references cohort (id),
      version integer not null check (version >= 1),
      content_sha256 text not null check (content_sha256 ~ '^[0-9a-f]{64}$'),
      reference_policy jsonb not null,
      case_count integer not null,
      note text not null default '',
      frozen_at timestamptz not null default now(),
      frozen_by bigint references app_user (id),
      unique (cohort_id, version)
    );

    create table cohort_version_case (
      cohort_version_id bigint not null references cohort_version (id),
      case_id bigint not null references patient_case (id),
      primary key (cohort_version_id, case_id)
    );

    create table cohort_version_reference (
      cohort_version_id bigint not null references cohort_version (id),
      case_id bigint not null references patient_case (id),
      structure_id bigint not null references structure (id),
      contour_set_id bigint not null references contour_set (id),
      mask_blob_sha256 text not null,
      primary key (cohort_version_id, case_id, structure_id)
    );

    create function cohort_version_immutable() returns trigger language plpgsql as $$
    begin
      raise exception '% is frozen (% refused)', tg_table_name, tg_op using errcode = 'insufficient_privilege';
    end;
    $$;
    create trigger cohort_version_frozen before update or delete or truncate on cohort_version
      for each statement execute function cohort_version_immutable();
    create trigger cohort_version_case_frozen before update or delete or truncate on cohort_version_case
      for each statement execute function cohort_version_immutable();
    create trigger cohort_version_reference_frozen before update or delete or truncate on cohort_version_reference
      for each statement execute function cohort_version_immutable();

    -- what was decided about a case check's finding: accepted with a note, or the case excluded
    create table cohort_finding_decision (
      cohort_id bigint not null references cohort (id),
      case_id bigint not null references patient_case (id),
      check_name text not null,
      structure text not null default '',
      decision text not null check (decision in ('accepted', 'excluded')),
      note text not null check (length(note) > 0),
      decided_by bigint references app_user (id),
      decided_at timestamptz not null default now(),
      primary key (cohort_id, case_id, check_name, structure)
    );

    alter table evaluation_run add column cohort_version_id bigint references cohort_version (id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table evaluation_run drop column cohort_version_id;
    drop table cohort_finding_decision;
    drop table cohort_version_reference;
    drop table cohort_version_case;
    drop table cohort_version;
    drop function cohort_version_immutable();
  `.execute(db);
}
