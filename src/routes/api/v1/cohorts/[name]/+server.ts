import { apiJson, parseQuery, v1Handler } from '$lib/server/api/v1';
import { cohortSchema } from '$lib/server/api/v1-endpoints';
import { sharedRuntime } from '$lib/server/runtime';
import { checkCohort, cohortOverview, stratification } from '$lib/server/services/cohort.service';
import { policyEntries, requireSites } from '$lib/server/services/cohort-options.service';
import type { RequestHandler } from './$types';

/**
 * One cohort: its cases with their reasons, frozen versions and runs, its strata and references per
 * structure under the reference policy, and the quality findings with what was decided about each.
 */
export const GET: RequestHandler = v1Handler(async ({ db, url, params, principal }) => {
  const query = parseQuery(cohortSchema, url, principal);
  const overview = await cohortOverview(db, params.name);
  requireSites(
    principal,
    overview.cases.map((c) => c.site),
  );
  const { blobs } = await sharedRuntime();
  const [strata, checked] = await Promise.all([
    stratification(db, params.name, query.reference),
    checkCohort({ db, blobs }, params.name, query.expected),
  ]);
  return apiJson({
    cohort: overview.name,
    cases: overview.cases.map(({ caseId: _caseId, ...c }) => c),
    versions: overview.versions.map(({ id: _id, policy, ...v }) => ({
      ...v,
      reference: policyEntries(policy),
    })),
    runs: overview.runs,
    stratification: { reference: query.reference, strata: strata.strata, structures: strata.structures },
    findings: checked.findings.map(({ caseId: _caseId, ...f }) => f),
  });
});
