import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface ModelVersionRow {
  id: number;
  modelId: number;
  name: string;
  version: string;
  onnxSha256: string;
  card: Record<string, unknown>;
  registeredAt: Date;
}

function selectVersions(db: Db) {
  return db
    .selectFrom('model_version as mv')
    .innerJoin('model as m', 'm.id', 'mv.model_id')
    .select([
      'mv.id as id',
      'm.id as modelId',
      'm.name as name',
      'mv.version as version',
      'mv.onnx_sha256 as onnxSha256',
      'mv.card as card',
      'mv.registered_at as registeredAt',
    ]);
}

export async function findModelVersion(
  db: Db,
  name: string,
  version: string,
): Promise<ModelVersionRow | undefined> {
  return selectVersions(db).where('m.name', '=', name).where('mv.version', '=', version).executeTakeFirst();
}

export async function findModelVersionBySha256(db: Db, sha256: string): Promise<ModelVersionRow | undefined> {
  return selectVersions(db).where('mv.onnx_sha256', '=', sha256).executeTakeFirst();
}

export async function listModelVersions(db: Db): Promise<ModelVersionRow[]> {
  return selectVersions(db).orderBy('m.name').orderBy('mv.registered_at').orderBy('mv.id').execute();
}

/** The model row by name, created or updated (vendor and description follow the newest card). */
export async function upsertModel(
  db: Db,
  model: { name: string; vendor: string; description: string },
): Promise<number> {
  const row = await db
    .insertInto('model')
    .values(model)
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ vendor: model.vendor, description: model.description }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function insertModelVersion(
  db: Db,
  values: { modelId: number; version: string; onnxSha256: string; card: Record<string, unknown> },
): Promise<number> {
  const row = await db
    .insertInto('model_version')
    .values({
      model_id: values.modelId,
      version: values.version,
      onnx_sha256: values.onnxSha256,
      card: values.card,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}
