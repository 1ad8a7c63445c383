import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { driftOptions, driftSchema } from '$lib/server/api/v1-endpoints';
import { driftCharts } from '$lib/server/services/drift.service';
import type { RequestHandler } from './$types';

/** Control charts (individuals and moving range, EWMA, CUSUM, Western Electric rules) per model, structure and site. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(driftSchema, url, principal);
    return apiJson(await driftCharts(db, driftOptions(params, toRowFilter(params))));
  },
  { cache: true },
);
