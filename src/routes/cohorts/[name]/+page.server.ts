import { error, type RequestEvent } from '@sveltejs/kit';
import { z } from 'zod';
import { can } from '$lib/core/access/permissions';
import { AppError, describeIssues, isAppError } from '$lib/core/errors';
import { clientAddress, formAction, httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit, requirePrincipal } from '$lib/server/services/account.service';
import {
  changeCohortCases,
  checkCohort,
  cohortOverview,
  decideFinding,
  freezeCohort,
  stratification,
  type Stratification,
} from '$lib/server/services/cohort.service';
import { policyEntries, requireCaseSites, requireSites } from '$lib/server/services/cohort-options.service';
import { createEvaluationRun } from '$lib/server/services/evaluation-run.service';
import { listModelVersions } from '$lib/server/services/model-registry.service';
import type { Actions, PageServerLoad } from './$types';

const DEFAULT_POLICY = '*=staple';

/** Entries of a typed policy or case list: separated by spaces, commas or new lines. */
const splitList = (text: string) =>
  text
    .split(/[\s,;]+/)
    .map((v) => v.trim())
    .filter((v) => v.length > 0);

const stamp = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

/** The cohort's overview, refused as a page error when it does not exist or spans a site not granted. */
async function readableOverview(principal: App.Locals['principal'], name: string) {
  const db = (await sharedRuntime()).database.db;
  try {
    const overview = await cohortOverview(db, name);
    requireSites(
      requirePrincipal(principal),
      overview.cases.map((c) => c.site),
    );
    return overview;
  } catch (problem) {
    if (isAppError(problem)) error(httpStatus[problem.code], problem.message);
    throw problem;
  }
}

export const load: PageServerLoad = async ({ params, url, locals, request }) => {
  const principal = requirePrincipal(locals.principal);
  const runtime = await sharedRuntime();
  const db = runtime.database.db;
  const name = params.name;
  const overview = await readableOverview(principal, name);
  const policyText = url.searchParams.get('reference')?.trim() || DEFAULT_POLICY;
  let policyError: string | null = null;
  let strata: Stratification;
  try {
    strata = await stratification(db, name, splitList(policyText));
  } catch (problem) {
    if (!isAppError(problem) || problem.code !== 'INVALID_ARGUMENT') throw problem;
    policyError = problem.message;
    strata = await stratification(db, name);
  }
  const canEvaluate = can(principal.role, 'models_write');
  const models = canEvaluate ? await listModelVersions(db) : [];
  // the checks read every mask of the cohort: streamed, so the rest of the page shows at once; but not
  // after a form action, whose status (409 for a refused freeze) a streamed answer could not carry
  const checking = checkCohort({ db, blobs: runtime.blobs }, name).then((checked) =>
    checked.findings.map((f) => ({
      check: f.check,
      pseudonym: f.pseudonym,
      structure: f.structure ?? null,
      message: f.message,
      decision: f.decision,
    })),
  );
  return {
    name,
    created: url.searchParams.get('created'),
    canWrite: can(principal.role, 'cohorts_write'),
    canEvaluate,
    canExport: can(principal.role, 'cohorts_write') && can(principal.role, 'images'),
    canReport: can(principal.role, 'reports'),
    policyText,
    policyError,
    strata,
    cases: overview.cases.map((c) => ({
      pseudonym: c.pseudonym,
      site: c.site,
      laterality: c.laterality,
      surgery: c.surgery,
      protocol: c.protocol,
      acquisitionDate: c.acquisitionDate,
      reason: c.reason,
      addedAt: stamp(c.addedAt),
    })),
    findings: request.method === 'POST' ? await checking : checking,
    versions: overview.versions.map((v) => ({
      version: v.version,
      contentSha256: v.contentSha256,
      policy: policyEntries(v.policy).join(' '),
      caseCount: v.caseCount,
      note: v.note,
      frozenAt: stamp(v.frozenAt),
      frozenBy: v.frozenBy,
    })),
    runs: overview.runs.map((r) => ({
      runId: r.runId,
      model: r.model,
      cohortVersion: r.cohortVersion,
      status: r.status,
      createdAt: stamp(r.createdAt),
      jobsTotal: r.jobsTotal,
      jobsSucceeded: r.jobsSucceeded,
      jobsFailed: r.jobsFailed,
    })),
    models: models.map((m) => `${m.name}@${m.version}`),
  };
};

/** The principal, actor and form of a write action, after checking every case of the cohort is visible. */
async function writeContext(event: RequestEvent<{ name: string }>) {
  const principal = requirePrincipal(event.locals.principal);
  const runtime = await sharedRuntime();
  const overview = await cohortOverview(runtime.database.db, event.params.name);
  requireSites(
    principal,
    overview.cases.map((c) => c.site),
  );
  return {
    principal,
    runtime,
    deps: { db: runtime.database.db, blobs: runtime.blobs },
    actor: actorOf(principal, clientAddress(event)),
    form: await event.request.formData(),
  };
}

const field = (form: FormData, name: string) => String(form.get(name) ?? '').trim();

function parsed<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new AppError('INVALID_ARGUMENT', describeIssues(result.error.issues, 'the form'));
  return result.data;
}

const reasonSchema = z.string().min(1, 'give the reason').max(500);

export const actions: Actions = {
  addCases: (event) =>
    formAction({ action: 'addCases' as const }, async () => {
      const { principal, deps, actor, form } = await writeContext(event);
      const add = parsed(
        z.array(z.string().min(1).max(128)).min(1, 'name at least one case by its pseudonym').max(1000),
        splitList(field(form, 'pseudonyms')),
      );
      const reason = parsed(reasonSchema, field(form, 'reason'));
      await requireCaseSites(deps.db, principal, add);
      const changed = await changeCohortCases(deps.db, event.params.name, { add, reason }, actor);
      return { added: changed.added };
    }),
  removeCase: (event) =>
    formAction({ action: 'removeCase' as const }, async () => {
      const { deps, actor, form } = await writeContext(event);
      const pseudonym = parsed(z.string().min(1).max(128), field(form, 'pseudonym'));
      const reason = parsed(reasonSchema, field(form, 'reason'));
      const changed = await changeCohortCases(
        deps.db,
        event.params.name,
        { remove: [pseudonym], reason },
        actor,
      );
      return { removed: changed.removed, pseudonym };
    }),
  decide: (event) =>
    formAction({ action: 'decide' as const }, async () => {
      const { deps, actor, form } = await writeContext(event);
      const input = parsed(
        z.strictObject({
          pseudonym: z.string().min(1).max(128),
          check: z.string().min(1).max(64),
          structure: z
            .string()
            .max(64)
            .transform((v) => v || undefined),
          decision: z.enum(['accepted', 'excluded']),
          note: z.string().min(1, 'write the note: what was checked and why').max(2000),
        }),
        {
          pseudonym: field(form, 'pseudonym'),
          check: field(form, 'check'),
          structure: field(form, 'structure'),
          decision: field(form, 'decision'),
          note: field(form, 'note'),
        },
      );
      await decideFinding(deps, event.params.name, input, actor);
      return { decided: input.decision, pseudonym: input.pseudonym, check: input.check };
    }),
  freeze: (event) =>
    formAction({ action: 'freeze' as const }, async () => {
      const { deps, actor, form } = await writeContext(event);
      const reference = splitList(field(form, 'reference') || DEFAULT_POLICY);
      const note = parsed(z.string().max(2000), field(form, 'note'));
      const frozen = await freezeCohort(deps, event.params.name, { reference, note }, actor);
      return {
        version: frozen.version,
        created: frozen.created,
        contentSha256: frozen.contentSha256,
        cases: frozen.cases,
        references: frozen.references,
      };
    }),
  evaluate: (event) =>
    formAction({ action: 'evaluate' as const }, async () => {
      const { principal, deps, actor, form } = await writeContext(event);
      const input = parsed(
        z.strictObject({
          model: z.string().min(3, 'choose a model').max(200),
          version: z.coerce.number().int().positive(),
        }),
        { model: field(form, 'model'), version: field(form, 'version') },
      );
      const run = await createEvaluationRun(deps.db, {
        model: input.model,
        cohort: event.params.name,
        version: input.version,
        createdBy: principal.userId,
      });
      await audit(deps.db, actor, {
        action: 'run.create',
        objectType: 'evaluation_run',
        objectId: run.runId,
        details: { model: input.model, cohort: event.params.name, version: input.version },
      });
      return { runId: run.runId, version: input.version, model: input.model, cases: run.cases };
    }),
};
