import { AppError } from '$lib/core/errors';
import { apiJson, v1Handler } from '$lib/server/api/v1';
import { actorOf, audit } from '$lib/server/services/account.service';
import { criteriaSets, saveCriteriaSet } from '$lib/server/services/model-comparison.service';
import type { RequestHandler } from './$types';

/** Every acceptance criteria set with its criteria. */
export const GET: RequestHandler = v1Handler(async ({ db }) => apiJson({ sets: await criteriaSets(db) }));

/** Replaces (or creates) one set: JSON {"name": ..., "criteria": [{structure, metric, comparator, threshold, minPassRate, note}]}. */
export const PUT: RequestHandler = v1Handler(async ({ db, request, principal, ip }) => {
  const body: unknown = await request.json().catch(() => {
    throw new AppError('INVALID_INPUT', 'the request body is not JSON');
  });
  const saved = await saveCriteriaSet(db, body, 'request body');
  await audit(db, actorOf(principal, ip), {
    action: 'criteria.save',
    objectType: 'acceptance_criterion_set',
    objectId: saved.name,
  });
  return apiJson(saved);
});
