import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// What the mask-based case checks found, kept by content hash: a mask's voxels never change under its
// sha256, so a cohort's checks read each mask once. One row per mask and check: its shape (pieces, holes,
// skipped slices), its voxels outside one body outline, or its Dice with one other mask (kept under the
// smaller of the two hashes). `definition_version` is raised when a check's definition changes, which leaves
// the old rows unread. No foreign key to blob: a row whose mask is gone is never looked up again.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table mask_check_result (
      mask_blob_sha256 text not null check (mask_blob_sha256 ~ '^[0-9a-f]{64}$'),
      check_name text not null check (check_name in ('shape', 'outside_body', 'dice')),
      -- '' for the shape; the body outline's mask for outside_body; the other mask for dice
      other_blob_sha256 text not null default ''
        check (other_blob_sha256 = '' or other_blob_sha256 ~ '^[0-9a-f]{64}$'),
      -- the grid the masks were read on, as '512x512x120'
      grid text not null check (grid ~ '^[0-9]+x[0-9]+x[0-9]+$'),
      definition_version integer not null,
      result jsonb not null,
      computed_at timestamptz not null default now(),
      primary key (mask_blob_sha256, check_name, other_blob_sha256, grid, definition_version)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table mask_check_result;`.execute(db);
}
