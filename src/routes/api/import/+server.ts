import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { AppError } from '$lib/core/errors';
import { clientAddress, errorResponse, limitedRequestBody } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit, requirePrincipal, requireSite } from '$lib/server/services/account.service';
import { importAuditDetails } from '$lib/server/services/audit.service';
import { importUpload } from '$lib/server/services/import.service';
import type { RequestHandler } from './$types';

const query = z.object({
  site: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'site: letters, digits, ".", "_" or "-"'),
  observer: z.string().min(1).max(64).optional(),
  cohort: z.string().min(1).max(128).optional(),
  laterality: z.enum(['left', 'right', 'bilateral']).optional(),
  surgery: z.enum(['breast_conserving', 'mastectomy', 'mastectomy_reconstruction', 'none']).optional(),
});

/** POST a zip of DICOM files (body application/zip); answers the import report. */
export const POST: RequestHandler = async (event) => {
  const { request, url } = event;
  try {
    const runtime = await sharedRuntime();
    const parsed = query.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) {
      throw new AppError(
        'INVALID_ARGUMENT',
        parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      );
    }
    const principal = requirePrincipal(event.locals.principal);
    requireSite(principal, parsed.data.site);
    // a declared Content-Length over the limit is refused before any byte is read, a longer body on arrival
    const body = limitedRequestBody(request, runtime.config.maxUploadBytes);
    if (!body)
      throw new AppError('INVALID_INPUT', 'the request has no body; send the zip archive as the body');
    const report = await importUpload(
      runtime.database.db,
      runtime.blobs,
      body,
      runtime.config.maxUploadBytes,
      {
        siteCode: parsed.data.site,
        observerCode: parsed.data.observer,
        cohortName: parsed.data.cohort,
        laterality: parsed.data.laterality,
        surgeryType: parsed.data.surgery,
      },
    );
    await audit(runtime.database.db, actorOf(principal, clientAddress(event)), {
      action: 'import.dicom',
      objectType: 'site',
      objectId: parsed.data.site,
      details: importAuditDetails(report),
    });
    return json(report, { status: report.studies.length > 0 ? 200 : 422 });
  } catch (error) {
    return errorResponse(error);
  }
};
