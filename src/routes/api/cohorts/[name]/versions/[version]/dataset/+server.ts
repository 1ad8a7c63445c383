import { z } from 'zod';
import { can } from '$lib/core/access/permissions';
import { AppError } from '$lib/core/errors';
import { parseQuery } from '$lib/server/api/v1';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit, requirePrincipal } from '$lib/server/services/account.service';
import { requireVersionSites } from '$lib/server/services/cohort-options.service';
import { exportNnunetZip } from '$lib/server/services/dataset-export.service';
import type { RequestHandler } from './$types';

const querySchema = z.strictObject({
  structure: z
    .array(z.string().min(1).max(64))
    .optional()
    .describe('TG-263 structure names (repeatable); default every structure with a reference'),
  external: z.enum(['0', '1', 'false', 'true']).default('1').describe('0 leaves out the body outline'),
  datasetId: z.coerce.number().int().min(1).max(999).optional().describe('nnU-Net dataset id, default 501'),
});

/**
 * GET a frozen cohort version as an nnU-Net v2 raw dataset zip (CT images and reference label maps),
 * streamed case by case. Images leave the system: the export is in the audit trail.
 */
export const GET: RequestHandler = async (event) => {
  const { params, url } = event;
  try {
    const principal = requirePrincipal(event.locals.principal);
    if (!can(principal.role, 'images'))
      throw new AppError('FORBIDDEN', `the ${principal.role} role has no access to images`);
    const version = Number(params.version);
    if (!Number.isSafeInteger(version) || version < 1)
      throw new AppError('INVALID_ARGUMENT', `version "${params.version}": expected a whole number from 1`);
    const query = parseQuery(querySchema, url, principal);
    const runtime = await sharedRuntime();
    const deps = { db: runtime.database.db, blobs: runtime.blobs };
    await requireVersionSites(deps.db, principal, params.name, version);
    const includeExternal = query.external === '1' || query.external === 'true';
    const exported = await exportNnunetZip(deps, {
      cohort: params.name,
      version,
      datasetId: query.datasetId,
      structures: query.structure,
      includeExternal,
    });
    await audit(deps.db, actorOf(principal, clientAddress(event)), {
      action: 'export.nnunet_dataset',
      objectType: 'cohort_version',
      objectId: `${params.name}@${version}`,
      details: {
        cohort: params.name,
        version,
        structures: query.structure ?? null,
        includeExternal,
        fileName: exported.fileName,
      },
    });
    return new Response(exported.body, {
      headers: {
        'content-type': 'application/zip',
        'content-disposition': `attachment; filename="${exported.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(exported.fileName)}`,
        'cache-control': 'no-store',
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
};
