import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// What importing DICOM needs beyond the first schema: per-site pseudonymisation keys, the slice-level
// references an exported RTSTRUCT must carry, and the optional original-UID map.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- secret of the site's stable pseudonyms (HMAC key); set by the application on first import
    alter table site add column pseudonym_key text;
    -- keep original UIDs (to export contours back to the planning system) only where the site says so
    alter table site add column keep_uid_map boolean not null default false;

    alter table image_series add column study_instance_uid text;
    alter table image_series add column sop_class_uid text;
    -- SOP Instance UID and ImagePositionPatient (x, y, z per slice, flattened) of each slice, in slice order
    alter table image_series add column sop_instance_uids text[] not null default '{}';
    alter table image_series add column slice_origins_lps_mm double precision[] not null default '{}';

    alter table contour_set add column image_series_id bigint references image_series (id) on delete cascade;
    create index contour_set_series_idx on contour_set (image_series_id);

    create table uid_map (
      site_id bigint not null references site (id) on delete cascade,
      pseudonymous_uid text not null,
      original_uid text not null,
      primary key (site_id, pseudonymous_uid)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table uid_map;
    drop index contour_set_series_idx;
    alter table contour_set drop column image_series_id;
    alter table image_series drop column slice_origins_lps_mm;
    alter table image_series drop column sop_instance_uids;
    alter table image_series drop column sop_class_uid;
    alter table image_series drop column study_instance_uid;
    alter table site drop column keep_uid_map;
    alter table site drop column pseudonym_key;
  `.execute(db);
}
