import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { AppError, describeIssues } from '$lib/core/errors';
import { requireApiToken } from '$lib/server/auth/api-token';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { createEvaluationRun } from '$lib/server/services/evaluation-run.service';
import type { RequestHandler } from './$types';

const body = z.strictObject({ model: z.string().min(3).max(200), cohort: z.string().min(1).max(128) });

/** Creates an evaluation run: JSON `{ "model": "NAME@VERSION", "cohort": "NAME" }`; 201 with the run. */
export const POST: RequestHandler = async ({ request }) => {
  try {
    const runtime = await sharedRuntime();
    requireApiToken(request.headers.get('authorization'), runtime.config.apiToken);
    const parsed = body.safeParse(await request.json().catch(() => undefined));
    if (!parsed.success)
      throw new AppError(
        'INVALID_ARGUMENT',
        `expected JSON {"model": "NAME@VERSION", "cohort": "NAME"}: ${describeIssues(parsed.error.issues, 'body')}`,
      );
    const run = await createEvaluationRun(runtime.database.db, parsed.data);
    return json(run, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
};
