import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { siteShiftOptions, siteShiftSchema } from '$lib/server/api/v1-endpoints';
import { siteFeatureShift, siteMetricShift } from '$lib/server/services/site-shift.service';
import type { RequestHandler } from './$types';

/** Per-site metric shift (each site against the rest, Kruskal-Wallis across sites) and image-feature shift. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(siteShiftSchema, url, principal);
    const options = siteShiftOptions(params, toRowFilter(params));
    const [metricShift, featureShift] = await Promise.all([
      siteMetricShift(db, options.metric),
      siteFeatureShift(db, options.features),
    ]);
    return apiJson({ metricShift, featureShift });
  },
  { cache: true },
);
