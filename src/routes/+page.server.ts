import { sharedRuntime } from '$lib/server/runtime';
import { getOverview } from '$lib/server/services/overview.service';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  const runtime = await sharedRuntime();
  const [health, counts] = await Promise.all([runtime.health(), getOverview(runtime.database.db)]);
  return { health, counts };
};
