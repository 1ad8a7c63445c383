import { json } from '@sveltejs/kit';
import { openApiDocument } from '$lib/server/api/openapi';
import { appVersion } from '$lib/server/paths';
import type { RequestHandler } from './$types';

/** The OpenAPI 3.1 document of /api/v1 (public: it describes the API, it holds no data). */
export const GET: RequestHandler = () => json(openApiDocument(appVersion()));
