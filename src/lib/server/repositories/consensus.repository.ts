import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface RaterContour {
  setId: number;
  observerCode: string;
  structureId: number;
  tg263Name: string;
  maskBlobSha256: string;
}

/** Every physician contour of a case on one image series: the raters of a consensus. */
export async function findPhysicianContours(
  db: Db,
  caseId: number,
  seriesId: number,
): Promise<RaterContour[]> {
  return db
    .selectFrom('contour')
    .innerJoin('contour_set', 'contour_set.id', 'contour.contour_set_id')
    .innerJoin('structure', 'structure.id', 'contour.structure_id')
    .innerJoin('observer', 'observer.id', 'contour_set.observer_id')
    .select([
      'contour_set.id as setId',
      'observer.code as observerCode',
      'structure.id as structureId',
      'structure.tg263_name as tg263Name',
      'contour.mask_blob_sha256 as maskBlobSha256',
    ])
    .where('contour_set.case_id', '=', caseId)
    .where('contour_set.image_series_id', '=', seriesId)
    .where('contour_set.source', '=', 'physician')
    .orderBy('structure.tg263_name')
    .orderBy('contour_set.id')
    .execute();
}

/** The case's consensus set of this variant (natural key), created or relabelled; returns its id. */
export async function upsertConsensusSet(
  db: Db,
  values: { caseId: number; imageSeriesId: number; variant: string; label: string },
): Promise<number> {
  const row = await db
    .insertInto('contour_set')
    .values({
      case_id: values.caseId,
      source: 'consensus',
      image_series_id: values.imageSeriesId,
      variant: values.variant,
      label: values.label,
    })
    .onConflict((oc) =>
      oc.constraint('contour_set_natural_key').doUpdateSet({
        label: values.label,
        image_series_id: values.imageSeriesId,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface ConsensusRaterValues {
  consensusSetId: number;
  structureId: number;
  raterSetId: number;
  sensitivity: number;
  specificity: number;
  prior: number;
  iterations: number;
  converged: boolean;
}

export async function upsertConsensusRater(db: Db, v: ConsensusRaterValues): Promise<void> {
  const values = {
    consensus_set_id: v.consensusSetId,
    structure_id: v.structureId,
    rater_set_id: v.raterSetId,
    sensitivity: v.sensitivity,
    specificity: v.specificity,
    prior: v.prior,
    iterations: v.iterations,
    converged: v.converged,
  };
  await db
    .insertInto('consensus_rater')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['consensus_set_id', 'structure_id', 'rater_set_id']).doUpdateSet({
        sensitivity: v.sensitivity,
        specificity: v.specificity,
        prior: v.prior,
        iterations: v.iterations,
        converged: v.converged,
        computed_at: new Date(),
      }),
    )
    .execute();
}

/** Removes the structures of a consensus set that are no longer produced (fewer than two raters now). */
export async function deleteConsensusContoursExcept(
  db: Db,
  consensusSetId: number,
  keepStructureIds: readonly number[],
): Promise<void> {
  let query = db.deleteFrom('contour').where('contour_set_id', '=', consensusSetId);
  if (keepStructureIds.length > 0) query = query.where('structure_id', 'not in', [...keepStructureIds]);
  await query.execute();
}

/** Cases that have a consensus set of this variant. */
export async function findCasesWithConsensus(db: Db, variant: string): Promise<Set<number>> {
  const rows = await db
    .selectFrom('contour_set')
    .select('case_id')
    .where('source', '=', 'consensus')
    .where('variant', '=', variant)
    .execute();
  return new Set(rows.map((r) => r.case_id));
}
