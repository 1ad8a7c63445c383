import { json } from '@sveltejs/kit';
import { requireApiToken } from '$lib/server/auth/api-token';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { retryFailedCases } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from '../run-id';
import type { RequestHandler } from './$types';

/**
 * Queues the failed cases of a run again: `{ runId, retried: [{ caseId, message }] }` with the errors
 * they had failed with (empty when nothing failed). 409 for a cancelled run.
 */
export const POST: RequestHandler = async ({ request, params }) => {
  try {
    const runtime = await sharedRuntime();
    requireApiToken(request.headers.get('authorization'), runtime.config.apiToken);
    const result = await retryFailedCases(runtime.database.db, runIdParam(params.id));
    return json({ runId: result.runId, retried: result.cases });
  } catch (error) {
    return errorResponse(error);
  }
};
