import { AppError } from '$lib/core/errors';
import { requireApiToken } from '$lib/server/auth/api-token';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { exportContourSetBytes } from '$lib/server/services/export.service';
import type { RequestHandler } from './$types';

/** GET a contour set as a DICOM RTSTRUCT file. */
export const GET: RequestHandler = async ({ params, request }) => {
  try {
    const runtime = await sharedRuntime();
    requireApiToken(request.headers.get('authorization'), runtime.config.apiToken);
    const id = Number(params.id);
    if (!Number.isSafeInteger(id) || id < 1)
      throw new AppError('INVALID_ARGUMENT', `"${params.id}" is not a contour set id`);
    const bytes = await exportContourSetBytes(runtime.database.db, runtime.blobs, id);
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': 'application/dicom',
        'content-disposition': `attachment; filename="contour-set-${id}.dcm"`,
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
};
