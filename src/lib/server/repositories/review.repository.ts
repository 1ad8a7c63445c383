import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export type ReviewGrade = 1 | 2 | 3 | 4;

/**
 * Stores a reviewer's grade of one structure of one contour set, replacing that reviewer's earlier grade
 * (natural key: contour set, structure, reviewer). The row holds the current grade, so its time becomes
 * the time of this grade.
 */
export async function upsertReview(
  db: Db,
  values: {
    contourSetId: number;
    structureId: number;
    reviewerId: number;
    grade: ReviewGrade;
    comment: string;
  },
): Promise<number> {
  const row = await db
    .insertInto('review')
    .values({
      contour_set_id: values.contourSetId,
      structure_id: values.structureId,
      reviewer_id: values.reviewerId,
      grade: values.grade,
      comment: values.comment,
    })
    .onConflict((oc) =>
      oc
        .columns(['contour_set_id', 'structure_id', 'reviewer_id'])
        .doUpdateSet({ grade: values.grade, comment: values.comment, created_at: sql`now()` }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface CaseReview {
  id: number;
  contourSetId: number;
  structureId: number;
  structure: string;
  reviewerEmail: string;
  reviewerName: string;
  grade: ReviewGrade;
  comment: string;
  createdAt: Date;
}

/** Every review of the contour sets of a case, newest first. */
export async function findCaseReviews(db: Db, caseId: number): Promise<CaseReview[]> {
  return db
    .selectFrom('review as r')
    .innerJoin('contour_set as cs', 'cs.id', 'r.contour_set_id')
    .innerJoin('structure as st', 'st.id', 'r.structure_id')
    .innerJoin('app_user as u', 'u.id', 'r.reviewer_id')
    .select([
      'r.id',
      'r.contour_set_id as contourSetId',
      'r.structure_id as structureId',
      'st.tg263_name as structure',
      'u.email as reviewerEmail',
      'u.display_name as reviewerName',
      'r.grade',
      'r.comment',
      'r.created_at as createdAt',
    ])
    .where('cs.case_id', '=', caseId)
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc')
    .execute();
}
