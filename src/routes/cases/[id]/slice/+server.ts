import { errorResponse } from '$lib/server/http';
import { caseSlice, int16LittleEndian } from '$lib/server/services/case-viewer.service';
import { planeQuery, viewerRequest } from '../viewer-params';
import type { RequestHandler } from './$types';

/**
 * GET one plane of the case's CT: Hounsfield units as little-endian Int16, row after row from the top of
 * the displayed plane. The headers give its size, pixel spacing (mm, between columns then rows) and the
 * number of planes of that orientation.
 */
export const GET: RequestHandler = async (event) => {
  try {
    const { caseId, query, deps } = await viewerRequest(event, planeQuery);
    const slice = await caseSlice(deps, caseId, query.plane, query.index);
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
