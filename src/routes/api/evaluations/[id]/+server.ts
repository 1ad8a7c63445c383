import { json } from '@sveltejs/kit';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { getRunProgress } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from './run-id';
import type { RequestHandler } from './$types';

/** Progress of a run: status, total, succeeded, failed, cases per minute, ETA and failed cases' errors. */
export const GET: RequestHandler = async ({ params }) => {
  try {
    const runtime = await sharedRuntime();
    return json(await getRunProgress(runtime.database.db, runIdParam(params.id)));
  } catch (error) {
    return errorResponse(error);
  }
};
