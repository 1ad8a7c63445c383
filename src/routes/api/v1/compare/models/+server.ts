import { AppError } from '$lib/core/errors';
import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { compareSchema } from '$lib/server/api/v1-endpoints';
import { parseReference } from '$lib/server/services/analytics-values';
import { compareModels } from '$lib/server/services/model-comparison.service';
import type { RequestHandler } from './$types';

/** Paired comparison of two model versions (model=A@V&model=B@W) per structure, with acceptance criteria. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(compareSchema, url, principal);
    const filter = toRowFilter(params);
    if (filter.models?.length !== 2)
      throw new AppError(
        'INVALID_ARGUMENT',
        'give exactly two models: model=NAME@VERSION&model=NAME@VERSION',
      );
    return apiJson(
      await compareModels(db, {
        models: [filter.models[0]!, filter.models[1]!],
        metrics: params.metric,
        filter: { ...filter, models: undefined },
        reference: parseReference(params.reference),
        criteriaSet: params.criteria,
        includeCases: params.cases === 'true',
      }),
    );
  },
  { cache: true },
);
