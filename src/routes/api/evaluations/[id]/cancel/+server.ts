import { json } from '@sveltejs/kit';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit } from '$lib/server/services/account.service';
import { cancelEvaluationRun } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from '../run-id';
import type { RequestHandler } from './$types';

/** Cancels a run; its pending jobs are removed, running ones finish. 409 when it has already ended. */
export const POST: RequestHandler = async (event) => {
  const { params } = event;
  try {
    const runtime = await sharedRuntime();
    const runId = runIdParam(params.id);
    const removed = await cancelEvaluationRun(runtime.database.db, runId);
    await audit(runtime.database.db, actorOf(event.locals.principal, clientAddress(event)), {
      action: 'run.cancel',
      objectType: 'evaluation_run',
      objectId: runId,
      details: { removedJobs: removed },
    });
    return json({ cancelled: true, removedJobs: removed });
  } catch (error) {
    return errorResponse(error);
  }
};
