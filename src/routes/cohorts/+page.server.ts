import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import { can } from '$lib/core/access/permissions';
import { AppError, describeIssues } from '$lib/core/errors';
import { clientAddress, formAction } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, requirePrincipal, scopeSites, type Principal } from '$lib/server/services/account.service';
import { createCohort, type CaseSelection } from '$lib/server/services/cohort.service';
import { cohortSelectionOptions, visibleCohorts } from '$lib/server/services/cohort-options.service';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const canWrite = can(principal.role, 'cohorts_write');
  const [cohorts, options] = await Promise.all([
    visibleCohorts(db, principal),
    canWrite ? cohortSelectionOptions(db, principal) : null,
  ]);
  return {
    canWrite,
    options,
    cohorts: cohorts.map((c) => ({
      name: c.name,
      description: c.description,
      createdAt: c.createdAt.toISOString().slice(0, 10),
      sites: c.sites,
      cases: c.cases,
      versions: c.versions,
      latestVersion: c.latestVersion,
      runs: c.runs,
    })),
  };
};

const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .transform((v) => (v === '' ? undefined : v));
const day = z.union([z.literal(''), z.iso.date()]).transform((v) => (v === '' ? undefined : v));

const createForm = z.strictObject({
  name: z.string().trim().min(1, 'give the cohort a name').max(128),
  description: z.string().trim().max(2000),
  reason: text(500),
  site: z.array(z.string().min(1).max(64)),
  structure: z.array(z.string().min(1).max(64)),
  laterality: text(32),
  surgery: text(64),
  protocol: text(200),
  manufacturer: text(200),
  scannerModel: text(200),
  kernel: text(200),
  from: day,
  to: day,
});

/** The form's fields: repeated ones (sites, structures) as lists, the others as their single value. */
function formFields(form: FormData) {
  const single = (name: string) => String(form.get(name) ?? '');
  const many = (name: string) =>
    form
      .getAll(name)
      .map(String)
      .filter((v) => v !== '');
  return {
    name: single('name'),
    description: single('description'),
    reason: single('reason'),
    site: many('site'),
    structure: many('structure'),
    laterality: single('laterality'),
    surgery: single('surgery'),
    protocol: single('protocol'),
    manufacturer: single('manufacturer'),
    scannerModel: single('scannerModel'),
    kernel: single('kernel'),
    from: single('from'),
    to: single('to'),
  };
}

function selectionOf(principal: Principal, fields: z.infer<typeof createForm>): CaseSelection {
  if (fields.from && fields.to && fields.from > fields.to)
    throw new AppError(
      'INVALID_ARGUMENT',
      `the date range ends (${fields.to}) before it starts (${fields.from})`,
    );
  const selection: CaseSelection = {
    // a user bound to sites selects among those sites only
    sites: scopeSites(principal, fields.site),
    laterality: fields.laterality,
    surgery: fields.surgery,
    protocol: fields.protocol,
    manufacturer: fields.manufacturer,
    scannerModel: fields.scannerModel,
    kernel: fields.kernel,
    from: fields.from,
    to: fields.to,
    structures: fields.structure.length ? fields.structure : undefined,
  };
  return Object.fromEntries(Object.entries(selection).filter(([, v]) => v !== undefined)) as CaseSelection;
}

export const actions: Actions = {
  create: async (event) => {
    const principal = requirePrincipal(event.locals.principal);
    const actor = actorOf(principal, clientAddress(event));
    const fields = formFields(await event.request.formData());
    const answer = await formAction({ action: 'create' as const, name: fields.name }, async () => {
      const parsed = createForm.safeParse(fields);
      if (!parsed.success)
        throw new AppError('INVALID_ARGUMENT', describeIssues(parsed.error.issues, 'the form'));
      const created = await createCohort(
        (await sharedRuntime()).database.db,
        {
          name: parsed.data.name,
          description: parsed.data.description,
          selection: selectionOf(principal, parsed.data),
          reason: parsed.data.reason,
        },
        actor,
      );
      return { cases: created.cases };
    });
    if ('cases' in answer)
      redirect(303, `/cohorts/${encodeURIComponent(fields.name.trim())}?created=${answer.cases}`);
    return answer;
  },
};
