import { z } from 'zod';
import { isAppError } from '$lib/core/errors';
import { filterSchema, parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { requirePrincipal } from '$lib/server/services/account.service';
import { analyticsOptions, analyticsVersion } from '$lib/server/services/analytics-values';
import { doseImpact } from '$lib/server/services/dose-impact.service';
import type { PageServerLoad } from './$types';

/** Rounds a plotted coordinate: a hundredth of a millimetre or Gy is below what a pixel shows. */
const hundredth = (v: number) => Math.round(v * 100) / 100;

const pageSchema = filterSchema.omit({ observer: true }).extend({
  scatter: z.string().min(1).max(200).optional().describe('the structure of the HD95 against |Δ Dmean| plot'),
  toleranceGy: z.coerce
    .number()
    .min(0)
    .max(100)
    .default(0.5)
    .describe('|Δ| within this many Gy counts as equal'),
  tolerancePct: z.coerce
    .number()
    .min(0)
    .max(100)
    .default(1)
    .describe('|Δ| of a V metric within this many percentage points counts as equal'),
});

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const runtime = await sharedRuntime();
  const db = runtime.database.db;
  const options = await analyticsOptions(db, principal.sites);
  const defaultScatter = (options.structures.includes('Heart') ? 'Heart' : options.structures[0]) ?? null;
  const empty = { options, defaultScatter, scatter: null, impact: null };
  const parsed = parsePageQuery(pageSchema, url, principal);
  if (parsed.error !== null) return { ...empty, error: parsed.error };
  const params = parsed.params;
  const scatter = params.scatter ?? defaultScatter;
  try {
    const question = {
      filter: toRowFilter({ ...params, observer: undefined }),
      toleranceGy: params.toleranceGy,
      tolerancePct: params.tolerancePct,
      doseMetrics: runtime.config.doseMetrics,
    };
    const version = await analyticsVersion(db);
    const impact = await rememberAnswer(version, 'dose impact', question, () => doseImpact(db, question));
    return {
      ...empty,
      error: null,
      scatter,
      impact: {
        ...impact,
        // only the chosen structure's points travel to the page; every structure keeps its rho
        structures: impact.structures.map(({ geometry, ...structure }) => ({
          ...structure,
          spearman: geometry.spearman,
          points:
            structure.structure === scatter
              ? {
                  hd95Mm: geometry.hd95Mm.map(hundredth),
                  absDeltaDmeanGy: geometry.absDeltaDmeanGy.map(hundredth),
                }
              : null,
        })),
      },
    };
  } catch (error) {
    if (isAppError(error) && error.code === 'INVALID_ARGUMENT') return { ...empty, error: error.message };
    throw error;
  }
};
