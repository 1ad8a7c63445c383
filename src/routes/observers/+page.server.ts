import { z } from 'zod';
import { parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { agreementSchema } from '$lib/server/api/v1-endpoints';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { requirePrincipal } from '$lib/server/services/account.service';
import { analyticsOptions, analyticsVersion } from '$lib/server/services/analytics-values';
import { observerVolumeAgreement } from '$lib/server/services/observer-bias.service';
import { AGREEMENT_METRICS, observerAgreement } from '$lib/server/services/observer-agreement.service';
import type { PageServerLoad } from './$types';

// Everything here is placed by acquisition date and concerns physicians, so the model and date-field
// filters of the API would only mislead.
const pageSchema = agreementSchema.omit({ model: true, dateField: true }).extend({
  structure: z.string().min(1).max(200).optional().describe('one TG-263 structure name'),
  metric: z.enum(AGREEMENT_METRICS).default('dice'),
});

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const options = await analyticsOptions(db, principal.sites);
  const defaultStructure = (options.structures.includes('Heart') ? 'Heart' : options.structures[0]) ?? null;
  const refused = (error: string) => ({
    options,
    defaultStructure,
    error,
    structure: null,
    metric: 'dice' as const,
    agreement: null,
    volumes: null,
  });
  const parsed = parsePageQuery(pageSchema, url, principal);
  if (parsed.error !== null) return refused(parsed.error);
  const params = parsed.params;
  const structure = params.structure ?? defaultStructure;
  if (structure !== null && !options.structures.includes(structure))
    return refused(
      `structure "${structure}": no metric rows; expected one of ${options.structures.join(', ')}`,
    );
  // the per-structure bias table spans every structure, so the structure narrows only the plots
  const filter = toRowFilter({ ...params, structure: undefined, dateField: 'acquisition' });
  const version = await analyticsVersion(db);
  const pointStructures = structure === null ? [] : [structure];
  const [agreement, volumes] = await Promise.all([
    structure === null
      ? null
      : rememberAnswer(version, 'agreement', { ...filter, structures: [structure] }, () =>
          observerAgreement(db, { ...filter, structures: [structure] }),
        ),
    rememberAnswer(version, 'observer volumes', { filter, pointStructures }, () =>
      observerVolumeAgreement(db, filter, { pointStructures }),
    ),
  ]);
  return {
    options,
    defaultStructure,
    error: null,
    structure,
    metric: params.metric,
    agreement,
    volumes,
  };
};
