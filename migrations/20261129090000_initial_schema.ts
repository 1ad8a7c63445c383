import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
//
// Conventions: singular snake_case tables, bigint identity ids, timestamptz, double precision for every
// measured quantity (units in the column name), natural keys as unique constraints so that re-imports and
// job retries upsert instead of duplicating. +Infinity is a valid double (a missed structure's HD95).

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table role (
      name text primary key,
      description text not null
    );
    insert into role (name, description) values
      ('admin', 'everything, including users, roles and the audit trail'),
      ('physicist', 'models, evaluation runs, cohorts and commissioning reports'),
      ('physician', 'own site''s cases, own contours and reviews'),
      ('auditor', 'aggregates across sites, no images');

    create table site (
      id bigint generated always as identity primary key,
      code text not null unique check (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
      name text not null,
      country text,
      -- A federated site runs its own worker bound to this queue; images never leave it.
      worker_queue text unique,
      created_at timestamptz not null default now()
    );

    create table app_user (
      id bigint generated always as identity primary key,
      email text not null,
      display_name text not null,
      role text not null references role (name),
      password_hash text,
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      last_login_at timestamptz
    );
    create unique index app_user_email_key on app_user (lower(email));

    create table site_access (
      user_id bigint not null references app_user (id) on delete cascade,
      site_id bigint not null references site (id) on delete cascade,
      granted_at timestamptz not null default now(),
      primary key (user_id, site_id)
    );
    create index site_access_site_idx on site_access (site_id);

    create table audit_event (
      id bigint generated always as identity primary key,
      occurred_at timestamptz not null default clock_timestamp(),
      user_id bigint references app_user (id),
      action text not null,
      object_type text not null,
      object_id text,
      site_id bigint references site (id),
      ip_address inet,
      details jsonb not null default '{}'::jsonb
    );
    create index audit_event_occurred_idx on audit_event (occurred_at desc);
    create index audit_event_user_idx on audit_event (user_id, occurred_at desc);
    create index audit_event_object_idx on audit_event (object_type, object_id);

    create function audit_event_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_event is append-only (% refused)', tg_op using errcode = 'insufficient_privilege';
    end;
    $$;
    create trigger audit_event_no_update before update or delete or truncate on audit_event
      for each statement execute function audit_event_append_only();

    create table observer (
      id bigint generated always as identity primary key,
      site_id bigint not null references site (id),
      code text not null,
      display_name text not null,
      profession text not null default 'radiation_oncologist'
        check (profession in ('radiation_oncologist', 'resident', 'dosimetrist', 'physicist', 'radiographer', 'other')),
      seniority text check (seniority in ('trainee', 'junior', 'senior', 'expert')),
      years_experience double precision check (years_experience >= 0),
      user_id bigint references app_user (id),
      created_at timestamptz not null default now(),
      unique (site_id, code)
    );

    create table structure (
      id bigint generated always as identity primary key,
      tg263_name text not null unique,
      description text not null default '',
      category text not null check (category in ('OAR', 'CTV', 'nodal', 'GTV', 'PTV', 'external', 'other')),
      laterality text not null default 'none' check (laterality in ('left', 'right', 'none')),
      fma_id integer,
      colour_rgb text check (colour_rgb ~ '^#[0-9a-f]{6}$'),
      created_at timestamptz not null default now()
    );

    -- Site-specific names mapped to TG-263; site_id null is a mapping every site shares.
    create table structure_alias (
      id bigint generated always as identity primary key,
      site_id bigint references site (id) on delete cascade,
      alias text not null,
      alias_normalised text not null,
      structure_id bigint not null references structure (id) on delete cascade,
      created_at timestamptz not null default now(),
      constraint structure_alias_key unique nulls not distinct (site_id, alias_normalised)
    );
    create index structure_alias_structure_idx on structure_alias (structure_id);

    -- Content-addressed blobs (CT volumes, masks, original DICOM, ONNX files). data is set only when the
    -- Postgres blob store holds the bytes; the file-system store keeps them under the data folder.
    create table blob (
      sha256 text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
      size_bytes bigint not null check (size_bytes >= 0),
      media_type text not null,
      compression text not null default 'none' check (compression in ('none', 'gzip', 'zstd')),
      stored_size_bytes bigint not null check (stored_size_bytes >= 0),
      data bytea,
      created_at timestamptz not null default now()
    );

    create table patient_case (
      id bigint generated always as identity primary key,
      site_id bigint not null references site (id),
      pseudonym text not null,
      -- salted hash of the original patient id, to find duplicates without keeping the id
      patient_key_sha256 text,
      acquisition_date date,
      laterality text check (laterality in ('left', 'right', 'bilateral')),
      surgery_type text check (surgery_type in ('breast_conserving', 'mastectomy', 'mastectomy_reconstruction', 'none')),
      protocol text,
      manufacturer text,
      scanner_model text,
      convolution_kernel text,
      kvp double precision,
      slice_thickness_mm double precision,
      pixel_spacing_mm double precision,
      hu_mean double precision,
      hu_std double precision,
      hu_p05 double precision,
      hu_p50 double precision,
      hu_p95 double precision,
      noise_std_hu double precision,
      image_features jsonb not null default '{}'::jsonb,
      notes text not null default '',
      imported_at timestamptz not null default now(),
      imported_by bigint references app_user (id),
      unique (site_id, pseudonym)
    );
    create index patient_case_site_idx on patient_case (site_id);
    create index patient_case_acquisition_idx on patient_case (acquisition_date);
    create index patient_case_patient_key_idx on patient_case (patient_key_sha256);

    create table image_series (
      id bigint generated always as identity primary key,
      case_id bigint not null references patient_case (id) on delete cascade,
      series_instance_uid text not null unique,
      frame_of_reference_uid text not null,
      modality text not null default 'CT',
      description text not null default '',
      dim_x integer not null check (dim_x > 0),
      dim_y integer not null check (dim_y > 0),
      dim_z integer not null check (dim_z > 0),
      spacing_x_mm double precision not null check (spacing_x_mm > 0),
      spacing_y_mm double precision not null check (spacing_y_mm > 0),
      spacing_z_mm double precision not null check (spacing_z_mm > 0),
      origin_lps_mm double precision[] not null check (cardinality(origin_lps_mm) = 3),
      -- row-major 3x3, columns are the i, j, k axes in LPS
      direction_lps double precision[] not null check (cardinality(direction_lps) = 9),
      slice_positions_mm double precision[] not null,
      volume_blob_sha256 text references blob (sha256),
      dicom_blob_sha256 text references blob (sha256),
      created_at timestamptz not null default now()
    );
    create index image_series_case_idx on image_series (case_id);

    create table model (
      id bigint generated always as identity primary key,
      name text not null unique,
      vendor text not null default '',
      description text not null default '',
      created_at timestamptz not null default now()
    );

    create table model_version (
      id bigint generated always as identity primary key,
      model_id bigint not null references model (id),
      version text not null,
      onnx_sha256 text not null unique references blob (sha256),
      card jsonb not null,
      registered_at timestamptz not null default now(),
      registered_by bigint references app_user (id),
      unique (model_id, version)
    );

    create table cohort (
      id bigint generated always as identity primary key,
      name text not null unique,
      description text not null default '',
      created_at timestamptz not null default now(),
      created_by bigint references app_user (id)
    );

    create table cohort_case (
      cohort_id bigint not null references cohort (id) on delete cascade,
      case_id bigint not null references patient_case (id),
      reason text not null default '',
      added_at timestamptz not null default now(),
      primary key (cohort_id, case_id)
    );
    create index cohort_case_case_idx on cohort_case (case_id);

    create table evaluation_run (
      id bigint generated always as identity primary key,
      cohort_id bigint not null references cohort (id),
      model_version_id bigint not null references model_version (id),
      status text not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
      parameters jsonb not null default '{}'::jsonb,
      jobs_total integer not null default 0 check (jobs_total >= 0),
      jobs_succeeded integer not null default 0 check (jobs_succeeded >= 0),
      jobs_failed integer not null default 0 check (jobs_failed >= 0),
      error text,
      created_at timestamptz not null default now(),
      created_by bigint references app_user (id),
      started_at timestamptz,
      finished_at timestamptz
    );
    create index evaluation_run_model_version_idx on evaluation_run (model_version_id);
    create index evaluation_run_created_idx on evaluation_run (created_at desc);

    create table contour_set (
      id bigint generated always as identity primary key,
      case_id bigint not null references patient_case (id) on delete cascade,
      source text not null check (source in ('physician', 'model', 'consensus', 'corrected')),
      observer_id bigint references observer (id),
      model_version_id bigint references model_version (id),
      parent_set_id bigint references contour_set (id),
      evaluation_run_id bigint references evaluation_run (id) on delete set null,
      -- distinguishes sets that share all other keys: a consensus method, a repeat session
      variant text not null default '',
      label text not null default '',
      sop_instance_uid text unique,
      created_at timestamptz not null default now(),
      constraint contour_set_source_fields check (
        (source = 'physician' and observer_id is not null and model_version_id is null) or
        (source = 'model' and model_version_id is not null and observer_id is null) or
        (source = 'consensus' and observer_id is null and model_version_id is null) or
        (source = 'corrected' and observer_id is not null and parent_set_id is not null)
      ),
      constraint contour_set_natural_key unique nulls not distinct
        (case_id, source, observer_id, model_version_id, parent_set_id, variant)
    );
    create index contour_set_observer_idx on contour_set (observer_id);
    create index contour_set_model_version_idx on contour_set (model_version_id);
    create index contour_set_parent_idx on contour_set (parent_set_id);

    create table contour (
      id bigint generated always as identity primary key,
      contour_set_id bigint not null references contour_set (id) on delete cascade,
      structure_id bigint not null references structure (id),
      mask_blob_sha256 text not null references blob (sha256),
      volume_cc double precision not null check (volume_cc >= 0),
      voxel_count bigint not null check (voxel_count >= 0),
      -- inclusive voxel bounding box [i0, j0, k0, i1, j1, k1]; null when empty
      bbox_ijk integer[] check (bbox_ijk is null or cardinality(bbox_ijk) = 6),
      source_roi_name text,
      source_roi_number integer,
      colour_rgb text,
      created_at timestamptz not null default now(),
      unique (contour_set_id, structure_id)
    );
    create index contour_structure_idx on contour (structure_id);

    -- One row per (reference set, test set, structure, definition version): every value the metric engine
    -- computes, under the name of its definition. Null means undefined (both masks empty), 'Infinity' a
    -- distance to an empty mask.
    create table metric (
      id bigint generated always as identity primary key,
      case_id bigint not null references patient_case (id) on delete cascade,
      reference_set_id bigint not null references contour_set (id) on delete cascade,
      test_set_id bigint not null references contour_set (id) on delete cascade,
      structure_id bigint not null references structure (id),
      evaluation_run_id bigint references evaluation_run (id) on delete set null,
      definition_version text not null,
      parameters jsonb not null,
      reference_empty boolean not null,
      test_empty boolean not null,
      -- is the test non-empty where the reference is; null when the reference is empty
      detected boolean,
      reference_volume_cc double precision not null,
      test_volume_cc double precision not null,
      intersection_volume_cc double precision not null,
      volume_diff_cc double precision not null,
      volume_diff_pct double precision,
      dice double precision,
      jaccard double precision,
      sensitivity double precision,
      precision double precision,
      hd95_mm double precision,
      hd_max_mm double precision,
      hd95_ref_to_test_mm double precision,
      hd95_test_to_ref_mm double precision,
      hd95_pooled_mm double precision,
      hd95_directed_mean_mm double precision,
      hd95_voxel_centre_mm double precision,
      msd_ref_to_test_mm double precision,
      msd_test_to_ref_mm double precision,
      msd_mean_mm double precision,
      assd_mm double precision,
      surface_area_ref_mm2 double precision not null,
      surface_area_test_mm2 double precision not null,
      -- {"1": 0.93, "2": 0.98, ...}: tolerance in mm (as written by the engine) to value
      surface_dice jsonb not null default '{}'::jsonb,
      apl_pixel_mm jsonb not null default '{}'::jsonb,
      apl_contour_mm jsonb not null default '{}'::jsonb,
      apl_slices jsonb,
      centroid_shift_mm double precision,
      centroid_shift_lps_mm double precision[],
      cranial_extent_error_mm double precision,
      caudal_extent_error_mm double precision,
      computed_at timestamptz not null default now(),
      constraint metric_natural_key unique (reference_set_id, test_set_id, structure_id, definition_version)
    );
    create index metric_structure_idx on metric (structure_id);
    create index metric_test_set_idx on metric (test_set_id);
    create index metric_case_idx on metric (case_id);
    create index metric_run_idx on metric (evaluation_run_id);

    create table job_outcome (
      id bigint generated always as identity primary key,
      evaluation_run_id bigint not null references evaluation_run (id) on delete cascade,
      case_id bigint not null references patient_case (id),
      status text not null check (status in ('succeeded', 'failed')),
      attempts integer not null default 1 check (attempts >= 1),
      error_code text,
      error_message text,
      worker_id text,
      started_at timestamptz not null,
      finished_at timestamptz not null,
      duration_ms double precision not null check (duration_ms >= 0),
      unique (evaluation_run_id, case_id)
    );

    create table editing_session (
      id bigint generated always as identity primary key,
      observer_id bigint not null references observer (id),
      case_id bigint not null references patient_case (id) on delete cascade,
      structure_id bigint references structure (id),
      from_set_id bigint references contour_set (id),
      to_set_id bigint references contour_set (id),
      started_at timestamptz not null,
      ended_at timestamptz not null,
      active_seconds double precision not null check (active_seconds >= 0),
      mode text not null default 'from_scratch' check (mode in ('from_scratch', 'editing_ai', 'editing_other')),
      tool text,
      created_at timestamptz not null default now(),
      check (ended_at >= started_at),
      constraint editing_session_natural_key unique nulls not distinct (observer_id, case_id, structure_id, started_at)
    );
    create index editing_session_observer_idx on editing_session (observer_id);
    create index editing_session_structure_idx on editing_session (structure_id);

    create table review (
      id bigint generated always as identity primary key,
      contour_set_id bigint not null references contour_set (id) on delete cascade,
      structure_id bigint not null references structure (id),
      reviewer_id bigint not null references app_user (id),
      -- 1 usable as is, 2 minor edits, 3 major edits, 4 unusable
      grade smallint not null check (grade between 1 and 4),
      comment text not null default '',
      created_at timestamptz not null default now(),
      unique (contour_set_id, structure_id, reviewer_id)
    );

    create table alarm (
      id bigint generated always as identity primary key,
      -- identifies the monitored series, e.g. model_version=3/site=2/structure=5/metric=dice
      series_key text not null,
      rule text not null,
      metric_name text not null,
      model_version_id bigint references model_version (id),
      site_id bigint references site (id),
      structure_id bigint references structure (id),
      point_at timestamptz not null,
      value double precision,
      details jsonb not null default '{}'::jsonb,
      raised_at timestamptz not null default now(),
      acknowledged_at timestamptz,
      acknowledged_by bigint references app_user (id),
      acknowledgement_note text,
      unique (series_key, rule, point_at)
    );
    create index alarm_open_idx on alarm (raised_at desc) where acknowledged_at is null;

    -- Live worker pools (graphile-worker) with the ids of their workers, refreshed by a heartbeat; a pool
    -- whose heartbeat stopped has its jobs unlocked for retry instead of waiting for the four-hour timeout.
    create table worker_pool (
      pool_id text primary key,
      queue text,
      hostname text not null,
      pid integer not null,
      concurrency integer not null,
      worker_ids text[] not null default '{}',
      version text not null,
      started_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now()
    );

    create table health_ping (
      nonce text primary key,
      requested_at timestamptz not null default now(),
      completed_at timestamptz,
      worker_id text,
      hostname text
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table health_ping;
    drop table worker_pool;
    drop table alarm;
    drop table review;
    drop table editing_session;
    drop table job_outcome;
    drop table metric;
    drop table contour;
    drop table contour_set;
    drop table evaluation_run;
    drop table cohort_case;
    drop table cohort;
    drop table model_version;
    drop table model;
    drop table image_series;
    drop table patient_case;
    drop table blob;
    drop table structure_alias;
    drop table structure;
    drop table observer;
    drop table audit_event;
    drop function audit_event_append_only();
    drop table site_access;
    drop table app_user;
    drop table site;
    drop table role;
  `.execute(db);
}
