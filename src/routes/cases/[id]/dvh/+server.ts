import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { errorResponse } from '$lib/server/http';
import { structureDvhs } from '$lib/server/services/dose-impact.service';
import { viewerRequest } from '../viewer-params';
import type { RequestHandler } from './$types';

const dvhQuery = z.strictObject({ structure: z.coerce.number().int().positive() });

/** GET the cumulative DVH of one structure for each contour set of the case, on the case's planned dose. */
export const GET: RequestHandler = async (event) => {
  try {
    const { caseId, query, deps } = await viewerRequest(event, dvhQuery);
    return json({ dvhs: await structureDvhs(deps.db, caseId, query.structure) });
  } catch (error) {
    return errorResponse(error);
  }
};
