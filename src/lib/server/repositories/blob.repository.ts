import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** Records a stored blob (idempotent: the same content has the same sha256). */
export async function upsertBlob(
  db: Db,
  blob: {
    sha256: string;
    sizeBytes: number;
    storedSizeBytes: number;
    compression: 'none' | 'gzip';
    mediaType: string;
  },
): Promise<void> {
  await db
    .insertInto('blob')
    .values({
      sha256: blob.sha256,
      size_bytes: blob.sizeBytes,
      stored_size_bytes: blob.storedSizeBytes,
      compression: blob.compression,
      media_type: blob.mediaType,
    })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
}
