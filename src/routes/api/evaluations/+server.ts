import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { AppError, describeIssues } from '$lib/core/errors';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit } from '$lib/server/services/account.service';
import { createEvaluationRun } from '$lib/server/services/evaluation-run.service';
import type { RequestHandler } from './$types';

const body = z.strictObject({
  model: z.string().min(3).max(200),
  cohort: z.string().min(1).max(128),
  version: z.number().int().positive().optional(),
});

/**
 * Creates an evaluation run: JSON `{ "model": "NAME@VERSION", "cohort": "NAME", "version": N }` (version:
 * a frozen cohort version, optional); 201 with the run.
 */
export const POST: RequestHandler = async (event) => {
  const { request } = event;
  try {
    const runtime = await sharedRuntime();
    const parsed = body.safeParse(await request.json().catch(() => undefined));
    if (!parsed.success)
      throw new AppError(
        'INVALID_ARGUMENT',
        `expected JSON {"model": "NAME@VERSION", "cohort": "NAME", "version": N (optional)}: ${describeIssues(parsed.error.issues, 'body')}`,
      );
    const run = await createEvaluationRun(runtime.database.db, parsed.data);
    await audit(runtime.database.db, actorOf(event.locals.principal, clientAddress(event)), {
      action: 'run.create',
      objectType: 'evaluation_run',
      objectId: run.runId,
      details: { model: parsed.data.model, cohort: parsed.data.cohort, version: parsed.data.version ?? null },
    });
    return json(run, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
};
