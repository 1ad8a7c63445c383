import { fail } from '@sveltejs/kit';
import { z } from 'zod';
import { parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { driftOptions, driftSchema } from '$lib/server/api/v1-endpoints';
import { clientAddress } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { actorOf, requirePrincipal } from '$lib/server/services/account.service';
import { analyticsOptions, analyticsVersion } from '$lib/server/services/analytics-values';
import { acknowledge, alarms, driftCharts } from '$lib/server/services/drift.service';
import type { Actions, PageServerLoad } from './$types';

const pageSchema = driftSchema.extend({
  chart: z.enum(['individuals', 'ewma', 'cusum']).default('individuals'),
});

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const options = await analyticsOptions(db, principal.sites);
  const parsed = parsePageQuery(pageSchema, url, principal);
  if (parsed.error !== null)
    return { options, error: parsed.error, drift: null, alarms: [], chart: 'individuals' as const };
  const params = parsed.params;
  // one model and one structure unless the URL asks for more: a page of every series is unreadable
  const filter = toRowFilter(params);
  filter.models ??= toRowFilter({ ...params, model: options.models.slice(-1) }).models;
  filter.structures ??= options.structures.includes('Heart') ? ['Heart'] : options.structures.slice(0, 1);
  const charting = driftOptions(params, filter);
  const version = await analyticsVersion(db);
  const [drift, open] = await Promise.all([
    rememberAnswer(version, 'drift', charting, () => driftCharts(db, charting)),
    alarms(db, { open: true, limit: 200, sites: params.site, structures: filter.structures }),
  ]);
  return {
    options,
    error: null,
    drift,
    chart: params.chart,
    selection: {
      models: filter.models?.map((m) => `${m.name}@${m.version}`) ?? [],
      structures: filter.structures,
    },
    alarms: open.map((a) => ({
      ...a,
      pointAt: a.pointAt.toISOString().slice(0, 10),
      raisedAt: a.raisedAt.toISOString(),
    })),
  };
};

export const actions: Actions = {
  acknowledge: async (event) => {
    const actor = actorOf(requirePrincipal(event.locals.principal), clientAddress(event));
    const form = await event.request.formData();
    const parsed = z
      .object({
        id: z.coerce.number().int().positive(),
        note: z.string().trim().min(1, 'write what was found').max(2000),
      })
      .safeParse({ id: form.get('id'), note: form.get('note') });
    if (!parsed.success) return fail(400, { error: parsed.error.issues.map((i) => i.message).join('; ') });
    try {
      await acknowledge(
        (await sharedRuntime()).database.db,
        parsed.data.id,
        { note: parsed.data.note },
        actor,
      );
    } catch (error) {
      return fail(409, { error: error instanceof Error ? error.message : String(error) });
    }
    return { acknowledged: parsed.data.id };
  },
};
