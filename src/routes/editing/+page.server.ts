import { isAppError } from '$lib/core/errors';
import { parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { editingSchema } from '$lib/server/api/v1-endpoints';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { requirePrincipal } from '$lib/server/services/account.service';
import { analyticsOptions, analyticsVersion } from '$lib/server/services/analytics-values';
import { editingEffort } from '$lib/server/services/editing-effort.service';
import type { PageServerLoad } from './$types';

/** Rounds a plotted coordinate: a tenth of a millimetre or second is below what a pixel shows. */
const tenth = (v: number) => Math.round(v * 10) / 10;

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const options = await analyticsOptions(db, principal.sites);
  const parsed = parsePageQuery(editingSchema, url, principal);
  if (parsed.error !== null) return { options, error: parsed.error, effort: null };
  const params = parsed.params;
  try {
    const question = {
      filter: toRowFilter(params),
      aplToleranceMm: params.aplTolerance,
      surfaceDiceToleranceMm: params.surfaceDiceTolerance,
    };
    const version = await analyticsVersion(db);
    const effort = await rememberAnswer(version, 'editing', question, () => editingEffort(db, question));
    return {
      options,
      error: null,
      effort: {
        ...effort,
        // thousands of sessions per structure: two columns of numbers instead of one object per point
        structures: effort.structures.map(({ points, ...structure }) => ({
          ...structure,
          aplMm: points.map((p) => tenth(p.aplMm!)),
          seconds: points.map((p) => tenth(p.seconds)),
        })),
      },
    };
  } catch (error) {
    if (isAppError(error) && error.code === 'INVALID_ARGUMENT')
      return { options, error: error.message, effort: null };
    throw error;
  }
};
