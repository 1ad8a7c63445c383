import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { largestDisagreement, requireCaseAccess } from '$lib/server/services/case-viewer.service';
import { parseCaseId, parseViewerQuery } from '../viewer-params';
import type { RequestHandler } from './$types';

const id = z.coerce.number().int().positive();
const disagreementQuery = z.strictObject({ structure: id, a: id, b: id });

/** GET the axial slice where two contour sets of the case disagree most on one structure. */
export const GET: RequestHandler = async ({ params, url, locals }) => {
  try {
    const caseId = parseCaseId(params.id);
    const query = parseViewerQuery(disagreementQuery, url);
    const runtime = await sharedRuntime();
    await requireCaseAccess(runtime.database.db, requirePrincipal(locals.principal), caseId);
    const result = await largestDisagreement({ db: runtime.database.db, blobs: runtime.blobs }, caseId, {
      structureId: query.structure,
      setA: query.a,
      setB: query.b,
    });
    return json(result);
  } catch (error) {
    return errorResponse(error);
  }
};
