import { apiJson, parseQuery, v1Handler } from '$lib/server/api/v1';
import { cohortsSchema } from '$lib/server/api/v1-endpoints';
import { visibleCohorts } from '$lib/server/services/cohort-options.service';
import type { RequestHandler } from './$types';

/** Every cohort the caller sees, with the sites of its cases and its counts of cases, versions and runs. */
export const GET: RequestHandler = v1Handler(async ({ db, url, principal }) => {
  parseQuery(cohortsSchema, url, principal);
  return apiJson({ cohorts: await visibleCohorts(db, principal) });
});
