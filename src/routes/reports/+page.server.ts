import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { getDashboardOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const principal = requirePrincipal(locals.principal);
  const overview = await getDashboardOverview((await sharedRuntime()).database.db, principal.sites);
  return { runs: overview.runs };
};
