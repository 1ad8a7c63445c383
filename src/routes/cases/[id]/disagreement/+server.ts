import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { errorResponse } from '$lib/server/http';
import { largestDisagreement } from '$lib/server/services/case-viewer.service';
import { viewerRequest } from '../viewer-params';
import type { RequestHandler } from './$types';

const id = z.coerce.number().int().positive();
const disagreementQuery = z.strictObject({ structure: id, a: id, b: id });

/** GET the axial slice where two contour sets of the case disagree most on one structure. */
export const GET: RequestHandler = async (event) => {
  try {
    const { caseId, query, deps } = await viewerRequest(event, disagreementQuery);
    const result = await largestDisagreement(deps, caseId, {
      structureId: query.structure,
      setA: query.a,
      setB: query.b,
    });
    return json(result);
  } catch (error) {
    return errorResponse(error);
  }
};
