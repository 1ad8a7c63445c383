import { json } from '@sveltejs/kit';
import { sharedRuntime } from '$lib/server/runtime';
import type { RequestHandler } from './$types';

/** Liveness and readiness: database, migrations, live job workers and queue counts. 503 only when down. */
export const GET: RequestHandler = async () => {
  const report = await (await sharedRuntime()).health();
  return json(report, {
    status: report.status === 'down' ? 503 : 200,
    headers: { 'cache-control': 'no-store' },
  });
};
