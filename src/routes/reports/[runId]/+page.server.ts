import { error, fail } from '@sveltejs/kit';
import { z } from 'zod';
import { AppError } from '$lib/core/errors';
import { sharedRuntime } from '$lib/server/runtime';
import { criteriaSets } from '$lib/server/services/model-comparison.service';
import { buildReport, signOffReport, type ReportOptions } from '$lib/server/services/report.service';
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

export const load: PageServerLoad = async ({ params, url }) => {
  const runtime = await sharedRuntime();
  const db = runtime.database.db;
  const runId = runIdOf(params.runId);
  try {
    const [report, sets] = await Promise.all([
      buildReport(db, runId, optionsOf(url), runtime.blobs),
      criteriaSets(db),
    ]);
    return { report, criteriaSets: sets.map((s) => s.name), print: url.searchParams.has('print') };
  } catch (e) {
    if (e instanceof AppError && e.code === 'NOT_FOUND') error(404, e.message);
    throw e;
  }
};

const signOffSchema = z.object({
  name: z.string().trim().min(2, 'your name').max(200),
  email: z.email('an email address'),
  role: z.enum(['medical physicist', 'radiation oncologist', 'head of department', 'other']),
  statement: z.string().trim().min(10, 'what you sign (at least 10 characters)').max(2000),
});

export const actions: Actions = {
  signoff: async ({ params, request, url }) => {
    const form = Object.fromEntries(await request.formData());
    const parsed = signOffSchema.safeParse(form);
    if (!parsed.success) return fail(400, { error: parsed.error.issues.map((i) => i.message).join('; ') });
    const db = (await sharedRuntime()).database.db;
    const signed = await signOffReport(db, runIdOf(params.runId), parsed.data, optionsOf(url));
    return { signed };
  },
};
