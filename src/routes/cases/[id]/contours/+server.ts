import { json } from '@sveltejs/kit';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { caseOverlays, requireCaseAccess } from '$lib/server/services/case-viewer.service';
import { parseCaseId, parseViewerQuery, planeQuery } from '../viewer-params';
import type { RequestHandler } from './$types';

/**
 * GET the outlines of every structure of every contour set of the case on one plane, as closed rings in
 * the plane's pixel coordinates (the same rows as the slice endpoint).
 */
export const GET: RequestHandler = async ({ params, url, locals }) => {
  try {
    const caseId = parseCaseId(params.id);
    const query = parseViewerQuery(planeQuery, url);
    const runtime = await sharedRuntime();
    await requireCaseAccess(runtime.database.db, requirePrincipal(locals.principal), caseId);
    const overlays = await caseOverlays(
      { db: runtime.database.db, blobs: runtime.blobs },
      caseId,
      query.plane,
      query.index,
    );
    return json(overlays, { headers: { 'cache-control': 'private, no-cache' } });
  } catch (error) {
    return errorResponse(error);
  }
};
