import { sharedRuntime } from '$lib/server/runtime';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  const runtime = await sharedRuntime();
  return { health: await runtime.health() };
};
