import { AppError } from '$lib/core/errors';
import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { siteShiftSchema } from '$lib/server/api/v1-endpoints';
import { parseReference } from '$lib/server/services/analytics-values';
import { siteFeatureShift, siteMetricShift } from '$lib/server/services/site-shift.service';
import type { RequestHandler } from './$types';

/** Per-site metric shift (each site against the rest, Kruskal-Wallis across sites) and image-feature shift. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url }) => {
    const params = parseQuery(siteShiftSchema, url);
    if ((params.windowFrom === undefined) !== (params.windowTo === undefined))
      throw new AppError('INVALID_ARGUMENT', 'give both windowFrom and windowTo, or neither');
    if (params.windowFrom !== undefined && params.referenceSite !== undefined)
      throw new AppError('INVALID_ARGUMENT', 'compare against a reference site or a window, not both');
    const filter = toRowFilter(params);
    const [metricShift, featureShift] = await Promise.all([
      siteMetricShift(db, {
        metric: params.metric,
        filter,
        reference: parseReference(params.reference),
        subject: params.subject,
      }),
      siteFeatureShift(db, {
        filter,
        referenceSite: params.referenceSite,
        window:
          params.windowFrom === undefined ? undefined : { from: params.windowFrom, to: params.windowTo! },
      }),
    ]);
    return apiJson({ metricShift, featureShift });
  },
  { cache: true },
);
