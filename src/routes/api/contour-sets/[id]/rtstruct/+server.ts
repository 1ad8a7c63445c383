import { AppError } from '$lib/core/errors';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit, requirePrincipal } from '$lib/server/services/account.service';
import { requireContourSetAccess } from '$lib/server/services/case-viewer.service';
import { exportContourSetBytes } from '$lib/server/services/export.service';
import type { RequestHandler } from './$types';

/** GET a contour set as a DICOM RTSTRUCT file. */
export const GET: RequestHandler = async (event) => {
  const { params } = event;
  try {
    const runtime = await sharedRuntime();
    const id = Number(params.id);
    if (!Number.isSafeInteger(id) || id < 1)
      throw new AppError('INVALID_ARGUMENT', `"${params.id}" is not a contour set id`);
    const db = runtime.database.db;
    const principal = requirePrincipal(event.locals.principal);
    const found = await requireContourSetAccess(db, principal, id);
    const bytes = await exportContourSetBytes(db, runtime.blobs, id);
    await audit(db, actorOf(principal, clientAddress(event)), {
      action: 'export.rtstruct',
      objectType: 'contour_set',
      objectId: id,
      siteId: found.siteId,
      details: { caseId: found.caseId, bytes: bytes.length },
    });
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
