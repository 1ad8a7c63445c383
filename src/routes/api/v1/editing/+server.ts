import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { editingSchema } from '$lib/server/api/v1-endpoints';
import { editingEffort } from '$lib/server/services/editing-effort.service';
import type { RequestHandler } from './$types';

/** Editing time against APL and surface Dice per structure, and the time saved against manual contouring. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(editingSchema, url, principal);
    return apiJson(
      await editingEffort(db, {
        filter: toRowFilter(params),
        aplToleranceMm: params.aplTolerance,
        surfaceDiceToleranceMm: params.surfaceDiceTolerance,
      }),
    );
  },
  { cache: true },
);
