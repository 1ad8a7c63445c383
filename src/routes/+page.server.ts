import { type Runtime, sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { getDashboardOverview, getOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

/** The health report, at most 5 s old: the overview shows it to every visitor, /api/health is fresh. */
let lastHealth: { at: number; report: ReturnType<Runtime['health']> } | undefined;
function recentHealth(runtime: Runtime): ReturnType<Runtime['health']> {
  if (lastHealth === undefined || Date.now() - lastHealth.at > 5000) {
    lastHealth = { at: Date.now(), report: runtime.health() };
    lastHealth.report.catch(() => (lastHealth = undefined));
  }
  return lastHealth.report;
}

export const load: PageServerLoad = async ({ depends, locals }) => {
  const principal = requirePrincipal(locals.principal);
  depends('app:overview');
  const runtime = await sharedRuntime();
  const [health, counts, overview] = await Promise.all([
    recentHealth(runtime),
    getOverview(runtime.database.db),
    getDashboardOverview(runtime.database.db, principal.sites),
  ]);
  return { health, counts, overview };
};
