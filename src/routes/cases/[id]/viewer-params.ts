import { z } from 'zod';
import { AppError, describeIssues } from '$lib/core/errors';
import { SLICE_PLANES } from '$lib/core/volume/slice-plane';
import type { Db } from '$lib/server/db/connection';
import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal } from '$lib/server/services/account.service';
import { requireCaseAccess } from '$lib/server/services/case-viewer.service';
import type { BlobStore } from '$lib/server/storage/blob-store';

/** The case id of a /cases/[id] path. */
export function parseCaseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1)
    throw new AppError('INVALID_ARGUMENT', `"${text}" is not a case id`);
  return id;
}

export const planeQuery = z.strictObject({
  plane: z.enum(SLICE_PLANES).default('axial'),
  index: z.coerce.number().int().min(0),
  /** the CT version the page was given: a URL with the current one may be cached for good */
  v: z.string().max(64).optional(),
});

/** Query parameters of a viewer data endpoint, each given once; unknown ones are refused. */
export function parseViewerQuery<S extends z.ZodObject>(schema: S, url: URL): z.infer<S> {
  const parsed = schema.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success)
    throw new AppError('INVALID_ARGUMENT', `query: ${describeIssues(parsed.error.issues, 'parameters')}`);
  return parsed.data;
}

/**
 * A viewer data request: the case id and query parsed, and the signed-in user checked against the
 * case's site, before any image is read.
 */
export async function viewerRequest<S extends z.ZodObject>(
  event: { params: { id: string }; url: URL; locals: App.Locals },
  schema: S,
): Promise<{ caseId: number; query: z.infer<S>; deps: { db: Db; blobs: BlobStore } }> {
  const caseId = parseCaseId(event.params.id);
  const query = parseViewerQuery(schema, event.url);
  const runtime = await sharedRuntime();
  await requireCaseAccess(runtime.database.db, requirePrincipal(event.locals.principal), caseId);
  return { caseId, query, deps: { db: runtime.database.db, blobs: runtime.blobs } };
}
