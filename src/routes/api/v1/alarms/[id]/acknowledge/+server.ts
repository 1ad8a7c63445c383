import { AppError, describeIssues } from '$lib/core/errors';
import { apiJson, v1Handler } from '$lib/server/api/v1';
import { acknowledgeSchema } from '$lib/server/api/v1-endpoints';
import { actorOf } from '$lib/server/services/account.service';
import { acknowledge } from '$lib/server/services/drift.service';
import type { RequestHandler } from './$types';

/** Acknowledges an open alarm: JSON {"note": "..."}; 409 when it was acknowledged already. */
export const POST: RequestHandler = v1Handler(async ({ db, request, params, principal, ip }) => {
  const id = Number(params.id);
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new AppError('INVALID_ARGUMENT', `alarm id "${params.id}" is not a positive integer`);
  const parsed = acknowledgeSchema.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success)
    throw new AppError(
      'INVALID_INPUT',
      `expected JSON {"note": "..."}: ${describeIssues(parsed.error.issues, 'body')}`,
    );
  await acknowledge(db, id, { note: parsed.data.note }, actorOf(principal, ip));
  return apiJson({ id, acknowledged: true });
});
