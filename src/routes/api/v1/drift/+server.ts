import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { driftSchema } from '$lib/server/api/v1-endpoints';
import { parseReference } from '$lib/server/services/analytics-values';
import { driftCharts } from '$lib/server/services/drift.service';
import type { RequestHandler } from './$types';

/** Control charts (individuals and moving range, EWMA, CUSUM, Western Electric rules) per model, structure and site. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url }) => {
    const params = parseQuery(driftSchema, url);
    return apiJson(
      await driftCharts(db, {
        metric: params.metric,
        filter: toRowFilter(params),
        reference: parseReference(params.reference),
        subject: params.subject,
        bySite: params.bySite === 'true',
        settings: {
          baselinePoints: params.baselinePoints,
          baselineFrom: params.baselineFrom,
          baselineTo: params.baselineTo,
          lambda: params.lambda,
          L: params.L,
          k: params.k,
          h: params.h,
          runLength: params.runLength,
        },
      }),
    );
  },
  { cache: true },
);
