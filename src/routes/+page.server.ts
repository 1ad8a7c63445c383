import { sharedRuntime } from '$lib/server/runtime';
import { getDashboardOverview, getOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ depends }) => {
  depends('app:overview');
  const runtime = await sharedRuntime();
  const [health, counts, overview] = await Promise.all([
    runtime.health(),
    getOverview(runtime.database.db),
    getDashboardOverview(runtime.database.db),
  ]);
  return { health, counts, overview };
};
