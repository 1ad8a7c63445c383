import { json } from '@sveltejs/kit';
import { errorResponse } from '$lib/server/http';
import { caseOverlays } from '$lib/server/services/case-viewer.service';
import { planeQuery, viewerRequest } from '../viewer-params';
import type { RequestHandler } from './$types';

/**
 * GET the outlines of every structure of every contour set of the case on one plane, as closed rings in
 * the plane's pixel coordinates (the same rows as the slice endpoint).
 */
export const GET: RequestHandler = async (event) => {
  try {
    const { caseId, query, deps } = await viewerRequest(event, planeQuery);
    const overlays = await caseOverlays(deps, caseId, query.plane, query.index);
    return json(overlays, { headers: { 'cache-control': 'private, no-cache' } });
  } catch (error) {
    return errorResponse(error);
  }
};
