import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { getRunProgress } from '$lib/server/services/evaluation-run.service';
import { runIdParam } from '../run-id';
import type { RequestHandler } from './$types';

const POLL_MS = 1000;

/**
 * Server-sent events of a run's progress: a `progress` event whenever the counts or status change (and
 * at once), then an `end` event when the run has ended, and the stream closes.
 */
export const GET: RequestHandler = async ({ params }) => {
  try {
    const runtime = await sharedRuntime();
    const runId = runIdParam(params.id);
    const db = runtime.database.db;
    await getRunProgress(db, runId); // 404 before the stream starts
    const encoder = new TextEncoder();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let last = '';
        const send = (event: string, data: unknown) =>
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
        const tick = async () => {
          try {
            const progress = await getRunProgress(db, runId);
            const key = `${progress.status}/${progress.succeeded}/${progress.failed}`;
            if (key !== last) send('progress', progress);
            last = key;
            if (progress.status !== 'queued' && progress.status !== 'running') {
              send('end', { status: progress.status });
              controller.close();
              return;
            }
            timer = setTimeout(() => void tick(), POLL_MS);
          } catch (error) {
            send('error', { message: (error as Error).message });
            controller.close();
          }
        };
        void tick();
      },
      cancel() {
        if (timer !== undefined) clearTimeout(timer);
      },
    });
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
    });
  } catch (error) {
    return errorResponse(error);
  }
};
