import { error, fail } from '@sveltejs/kit';
import { z } from 'zod';
import { AppError } from '$lib/core/errors';
import { can } from '$lib/core/access/permissions';
import { clientAddress } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, requirePrincipal } from '$lib/server/services/account.service';
import { criteriaSets } from '$lib/server/services/model-comparison.service';
import {
  buildReport,
  requireReportAccess,
  signOffReport,
  type ReportOptions,
} from '$lib/server/services/report.service';
import type { Actions, PageServerLoad } from './$types';

function runIdOf(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id <= 0) error(404, `no evaluation run "${text}"`);
  return id;
}

/** The report's choices from the URL: the version compared with and the criteria set. */
function optionsOf(url: URL): ReportOptions {
  const compare = url.searchParams.get('compare');
  const criteria = url.searchParams.get('criteria');
  return {
    compareWith: compare === null ? undefined : compare === '' ? null : compare,
    criteriaSet: criteria ? criteria : undefined,
  };
}

export const load: PageServerLoad = async ({ params, url, locals }) => {
  const runtime = await sharedRuntime();
  const db = runtime.database.db;
  const runId = runIdOf(params.runId);
  const principal = requirePrincipal(locals.principal);
  try {
    await requireReportAccess(db, principal, runId);
    // pictures of worst cases are CT images: only for roles that see images
    const blobs = can(principal.role, 'images') ? runtime.blobs : undefined;
    const [report, sets] = await Promise.all([
      buildReport(db, runId, optionsOf(url), blobs),
      criteriaSets(db),
    ]);
    return {
      report,
      criteriaSets: sets.map((s) => s.name),
      print: url.searchParams.has('print'),
      canSign: can(principal.role, 'sign_report'),
    };
  } catch (e) {
    if (e instanceof AppError && e.code === 'NOT_FOUND') error(404, e.message);
    if (e instanceof AppError && e.code === 'FORBIDDEN') error(403, e.message);
    throw e;
  }
};

const signOffSchema = z.object({
  role: z.enum(['medical physicist', 'radiation oncologist', 'head of department', 'other']),
  statement: z.string().trim().min(10, 'what you sign (at least 10 characters)').max(2000),
});

export const actions: Actions = {
  signoff: async (event) => {
    const principal = requirePrincipal(event.locals.principal);
    const form = Object.fromEntries(await event.request.formData());
    const parsed = signOffSchema.safeParse(form);
    if (!parsed.success) return fail(400, { error: parsed.error.issues.map((i) => i.message).join('; ') });
    const db = (await sharedRuntime()).database.db;
    const runId = runIdOf(event.params.runId);
    await requireReportAccess(db, principal, runId);
    const signed = await signOffReport(
      db,
      runId,
      { ...parsed.data, name: principal.displayName, email: principal.email },
      actorOf(principal, clientAddress(event)),
      optionsOf(event.url),
    );
    return { signed };
  },
};
