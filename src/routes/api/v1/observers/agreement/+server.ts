import { apiJson, parseQuery, toRowFilter, v1Handler } from '$lib/server/api/v1';
import { agreementSchema } from '$lib/server/api/v1-endpoints';
import { observerAgreement } from '$lib/server/services/observer-agreement.service';
import type { RequestHandler } from './$types';

/** Inter-observer agreement per structure: pairwise matrix, each observer against the consensus, the human envelope. */
export const GET: RequestHandler = v1Handler(
  async ({ db, url, principal }) =>
    apiJson(await observerAgreement(db, toRowFilter(parseQuery(agreementSchema, url, principal)))),
  { cache: true },
);
