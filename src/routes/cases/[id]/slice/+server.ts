import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { caseSlice, int16LittleEndian, requireCaseAccess } from '$lib/server/services/case-viewer.service';
import { parseCaseId, parseViewerQuery, planeQuery } from '../viewer-params';
import type { RequestHandler } from './$types';

/**
 * GET one plane of the case's CT: Hounsfield units as little-endian Int16, row after row from the top of
 * the displayed plane. The headers give its size, pixel spacing (mm, between columns then rows) and the
 * number of planes of that orientation.
 */
export const GET: RequestHandler = async ({ params, url, locals }) => {
  try {
    const caseId = parseCaseId(params.id);
    const query = parseViewerQuery(planeQuery, url);
    const runtime = await sharedRuntime();
    await requireCaseAccess(runtime.database.db, requirePrincipal(locals.principal), caseId);
    const slice = await caseSlice(
      { db: runtime.database.db, blobs: runtime.blobs },
      caseId,
      query.plane,
      query.index,
    );
    // the CT blob is content-addressed: a URL naming the current content always gets the same bytes
    const current =
      query.v !== undefined && slice.volumeBlobSha256.startsWith(query.v) && query.v.length >= 16;
    return new Response(int16LittleEndian(slice.data), {
      headers: {
        'content-type': 'application/octet-stream',
        'cache-control': current ? 'private, max-age=31536000, immutable' : 'private, no-cache',
        'x-plane': slice.plane,
        'x-index': String(slice.index),
        'x-plane-count': String(slice.count),
        'x-width': String(slice.width),
        'x-height': String(slice.height),
        'x-pixel-spacing-mm': slice.pixelSpacingMm.join(','),
        'x-rows-flipped': String(slice.flipRows),
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
};
