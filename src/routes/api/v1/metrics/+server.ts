import { metricDefinitionVersion } from '$lib/core/metrics/metric-set';
import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { metricsSchema } from '$lib/server/api/v1-endpoints';
import { listMetricRows, metricRowsCsv } from '$lib/server/services/metric-query.service';
import type { RequestHandler } from './$types';

/** Stored metric rows under the filters, as JSON pages (with the definitions) or CSV (format=csv). */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(metricsSchema, url, principal);
    const filter = {
      ...toRowFilter(params),
      referenceSource: params.referenceSource,
      testSource: params.testSource,
      evaluationRunId: params.run,
    };
    const page = { limit: params.limit, offset: params.offset };
    if (params.format === 'json') return apiJson(await listMetricRows(db, filter, page));
    return new Response(await metricRowsCsv(db, filter, page), {
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="contourbench-metrics.csv"',
        'x-metric-definition-version': metricDefinitionVersion,
      },
    });
  },
  {
    cache: true,
    audit: (url) =>
      url.searchParams.get('format') === 'csv'
        ? { action: 'export.metrics_csv', objectType: 'metric', details: { query: url.search } }
        : null,
  },
);
