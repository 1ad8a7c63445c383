import { error, fail } from '@sveltejs/kit';
import { z } from 'zod';
import { describeIssues, errorMessage, isAppError } from '$lib/core/errors';
import { can } from '$lib/core/access/permissions';
import { clientAddress, httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit, requirePrincipal } from '$lib/server/services/account.service';
import {
  caseViewerData,
  GRADE_SCALE,
  requireCaseAccess,
  saveReview,
} from '$lib/server/services/case-viewer.service';
import { parseCaseId } from './viewer-params';
import type { Actions, PageServerLoad } from './$types';

function caseIdOf(text: string): number {
  try {
    return parseCaseId(text);
  } catch (problem) {
    error(400, errorMessage(problem));
  }
}

export const load: PageServerLoad = async (event) => {
  const caseId = caseIdOf(event.params.id);
  const principal = requirePrincipal(event.locals.principal);
  const db = (await sharedRuntime()).database.db;
  try {
    const site = await requireCaseAccess(db, principal, caseId);
    const data = await caseViewerData(db, caseId);
    // every opening of a case's images is on record
    await audit(db, actorOf(principal, clientAddress(event)), {
      action: 'case.view_images',
      objectType: 'patient_case',
      objectId: caseId,
      siteId: site.siteId,
    });
    return { ...data, gradeScale: GRADE_SCALE, canReview: can(principal.role, 'review') };
  } catch (problem) {
    if (isAppError(problem)) error(httpStatus[problem.code], problem.message);
    throw problem;
  }
};

const id = z.coerce.number().int().positive();
const reviewForm = z.object({
  contourSetId: id,
  structureId: id,
  grade: z.coerce
    .number()
    .int()
    .refine((g): g is 1 | 2 | 3 | 4 => g >= 1 && g <= 4, 'choose a grade from 1 to 4'),
  comment: z.string().max(2000).default(''),
});

export const actions: Actions = {
  review: async (event) => {
    const caseId = caseIdOf(event.params.id);
    const principal = requirePrincipal(event.locals.principal);
    const form = await event.request.formData();
    const raw = Object.fromEntries(
      ['contourSetId', 'structureId', 'grade', 'comment'].map((name) => [name, form.get(name) ?? undefined]),
    );
    const target = {
      contourSetId: Number(raw.contourSetId) || undefined,
      structureId: Number(raw.structureId) || undefined,
    };
    const parsed = reviewForm.safeParse(raw);
    if (!parsed.success) return fail(400, { ...target, error: describeIssues(parsed.error.issues, 'form') });
    const values = parsed.data;
    try {
      const db = (await sharedRuntime()).database.db;
      const site = await requireCaseAccess(db, principal, caseId);
      const saved = await saveReview(db, caseId, {
        ...values,
        reviewerId: principal.userId,
        grade: values.grade as 1 | 2 | 3 | 4,
      });
      await audit(db, actorOf(principal, clientAddress(event)), {
        action: 'review.save',
        objectType: 'review',
        objectId: saved.reviewId,
        siteId: site.siteId,
        details: {
          caseId,
          contourSetId: values.contourSetId,
          structureId: values.structureId,
          grade: values.grade,
        },
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
