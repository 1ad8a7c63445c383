import { isAppError } from '$lib/core/errors';
import { parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { siteShiftOptions, siteShiftSchema } from '$lib/server/api/v1-endpoints';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { requirePrincipal } from '$lib/server/services/account.service';
import { analyticsOptions, analyticsVersion } from '$lib/server/services/analytics-values';
import { siteFeatureShift, siteMetricShift } from '$lib/server/services/site-shift.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const options = await analyticsOptions(db, principal.sites);
  // newest first, so the select shows the default when the URL names no model
  const models = [...options.models].reverse();
  const empty = { options, models, metricShift: null, featureShift: null, model: null };
  const parsed = parsePageQuery(siteShiftSchema, url, principal);
  if (parsed.error !== null) return { ...empty, error: parsed.error };
  const params = parsed.params;
  if ((params.model?.length ?? 0) > 1)
    return { ...empty, error: `one model at a time: the URL names ${params.model!.join(', ')}` };

  const model = params.model?.[0] ?? models[0] ?? null;
  const filter = toRowFilter({ ...params, model: model === null ? undefined : [model] });
  // physicians' contour sets carry no model version, so a model filter would select none of them
  if (params.subject === 'physician') filter.models = undefined;
  try {
    const shift = siteShiftOptions(params, filter);
    const version = await analyticsVersion(db);
    const [metricShift, featureShift] = await Promise.all([
      rememberAnswer(version, 'site metric shift', shift.metric, () => siteMetricShift(db, shift.metric)),
      rememberAnswer(version, 'site feature shift', shift.features, () =>
        siteFeatureShift(db, shift.features),
      ),
    ]);
    return {
      options,
      models,
      error: null,
      model: params.subject === 'model' ? model : null,
      metricShift,
      featureShift,
    };
  } catch (error) {
    // a reference site without cases or an unknown reference is the reader's to fix, not a server fault
    if (isAppError(error) && (error.code === 'NOT_FOUND' || error.code === 'INVALID_ARGUMENT'))
      return { ...empty, error: error.message };
    throw error;
  }
};
