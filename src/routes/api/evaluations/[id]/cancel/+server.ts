import { json } from '@sveltejs/kit';
import { requireApiToken } from '$lib/server/auth/api-token';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { cancelEvaluationRun } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from '../run-id';
import type { RequestHandler } from './$types';

/** Cancels a run; its pending jobs are removed, running ones finish. 409 when it has already ended. */
export const POST: RequestHandler = async ({ request, params }) => {
  try {
    const runtime = await sharedRuntime();
    requireApiToken(request.headers.get('authorization'), runtime.config.apiToken);
    const removed = await cancelEvaluationRun(runtime.database.db, runIdParam(params.id));
    return json({ cancelled: true, removedJobs: removed });
  } catch (error) {
    return errorResponse(error);
  }
};
