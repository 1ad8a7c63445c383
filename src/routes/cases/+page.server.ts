import { z } from 'zod';
import { parsePageQuery } from '$lib/server/api/v1';
import { sharedRuntime } from '$lib/server/runtime';
import { requirePrincipal, scopeSites } from '$lib/server/services/account.service';
import { listCases } from '$lib/server/services/case-viewer.service';
import type { PageServerLoad } from './$types';

const pageSchema = z.strictObject({
  site: z.array(z.string().min(1).max(64)).optional().describe('site code (repeatable)'),
  cohort: z.string().min(1).max(128).optional().describe('cohort name'),
});

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const parsed = parsePageQuery(pageSchema, url, principal);
  const list = await listCases(
    db,
    parsed.params === null
      ? { sites: scopeSites(principal, undefined) }
      : { sites: parsed.params.site, cohort: parsed.params.cohort },
  );
  return {
    ...list,
    error: parsed.error,
    filtered:
      parsed.params !== null && (parsed.params.site !== undefined || parsed.params.cohort !== undefined),
  };
};
