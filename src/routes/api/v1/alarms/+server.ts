import { apiJson, parseQuery, v1Handler } from '$lib/server/api/v1';
import { alarmsSchema } from '$lib/server/api/v1-endpoints';
import { alarms } from '$lib/server/services/drift.service';
import type { RequestHandler } from './$types';

/** Stored drift alarms, newest first (open ones by default). */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) => {
    const params = parseQuery(alarmsSchema, url, principal);
    return apiJson({
      alarms: await alarms(db, {
        open: params.open === 'true',
        limit: params.limit,
        sites: params.site,
        structures: params.structure,
      }),
    });
  },
  { cache: true },
);
