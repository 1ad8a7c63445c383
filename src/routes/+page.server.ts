import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { getDashboardOverview, getOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ depends, locals }) => {
  const principal = requirePrincipal(locals.principal);
  depends('app:overview');
  const runtime = await sharedRuntime();
  const [health, counts, overview] = await Promise.all([
    runtime.health(),
    getOverview(runtime.database.db),
    getDashboardOverview(runtime.database.db, principal.sites),
  ]);
  return { health, counts, overview };
};
