import { error, fail } from '@sveltejs/kit';
import { z } from 'zod';
import { describeIssues, errorMessage, isAppError } from '$lib/core/errors';
import { httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { caseViewerData, GRADE_SCALE, saveReview } from '$lib/server/services/case-viewer.service';
import { parseCaseId } from './viewer-params';
import type { Actions, PageServerLoad } from './$types';

function caseIdOf(text: string): number {
  try {
    return parseCaseId(text);
  } catch (problem) {
    error(400, errorMessage(problem));
  }
}

export const load: PageServerLoad = async ({ params }) => {
  const caseId = caseIdOf(params.id);
  const db = (await sharedRuntime()).database.db;
  try {
    return { ...(await caseViewerData(db, caseId)), gradeScale: GRADE_SCALE };
  } catch (problem) {
    if (isAppError(problem)) error(httpStatus[problem.code], problem.message);
    throw problem;
  }
};

const id = z.coerce.number().int().positive();
const reviewForm = z.object({
  contourSetId: id,
  structureId: id,
  email: z.email('write the reviewer email above the grades'),
  grade: z.coerce
    .number()
    .int()
    .refine((g): g is 1 | 2 | 3 | 4 => g >= 1 && g <= 4, 'choose a grade from 1 to 4'),
  comment: z.string().max(2000).default(''),
});

export const actions: Actions = {
  review: async ({ params, request }) => {
    const caseId = caseIdOf(params.id);
    const form = await request.formData();
    const raw = Object.fromEntries(
      ['contourSetId', 'structureId', 'email', 'grade', 'comment'].map((name) => [
        name,
        form.get(name) ?? undefined,
      ]),
    );
    const target = {
      contourSetId: Number(raw.contourSetId) || undefined,
      structureId: Number(raw.structureId) || undefined,
    };
    const parsed = reviewForm.safeParse(raw);
    if (!parsed.success) return fail(400, { ...target, error: describeIssues(parsed.error.issues, 'form') });
    const values = parsed.data;
    try {
      await saveReview((await sharedRuntime()).database.db, caseId, {
        ...values,
        grade: values.grade as 1 | 2 | 3 | 4,
      });
    } catch (problem) {
      if (!isAppError(problem)) throw problem;
      return fail(httpStatus[problem.code], { ...target, error: problem.message });
    }
    return {
      ...target,
      saved: { contourSetId: values.contourSetId, structureId: values.structureId, grade: values.grade },
    };
  },
};
