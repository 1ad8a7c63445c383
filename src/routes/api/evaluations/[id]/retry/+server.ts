import { json } from '@sveltejs/kit';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit } from '$lib/server/services/account.service';
import { retryFailedCases } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from '../run-id';
import type { RequestHandler } from './$types';

/**
 * Queues the failed cases of a run again: `{ runId, retried: [{ caseId, message }] }` with the errors
 * they had failed with (empty when nothing failed). 409 for a cancelled run.
 */
export const POST: RequestHandler = async (event) => {
  const { params } = event;
  try {
    const runtime = await sharedRuntime();
    const result = await retryFailedCases(runtime.database.db, runIdParam(params.id));
    await audit(runtime.database.db, actorOf(event.locals.principal, clientAddress(event)), {
      action: 'run.retry',
      objectType: 'evaluation_run',
      objectId: result.runId,
      details: { cases: result.cases.map((c) => c.caseId) },
    });
    return json({ runId: result.runId, retried: result.cases });
  } catch (error) {
    return errorResponse(error);
  }
};
