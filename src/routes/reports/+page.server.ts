import { sharedRuntime } from '$lib/server/runtime';
import { getDashboardOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  const overview = await getDashboardOverview((await sharedRuntime()).database.db);
  return { runs: overview.runs };
};
