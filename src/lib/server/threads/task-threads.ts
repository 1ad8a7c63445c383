import path from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';
import { AppError, errorMessage } from '../../core/errors';
import { projectRoot } from '../paths';

type Reply<R> = { id: number; result: R } | { id: number; error: string };

/**
 * Runs `count` independent tasks (numbered 0 .. count - 1) on up to `threads` worker threads started
 * from bin/<entry>.js, each thread taking the next task when it finishes one. Results come back in task
 * order; `onResult` hears of each as it arrives. The first failure stops every thread and rejects, naming
 * the task. With one thread or one task, `inline` runs them here instead (no thread start-up).
 */
export async function runTasksInThreads<T, R>(options: {
  entry: string;
  tasks: readonly T[];
  threads: number;
  inline: (task: T) => Promise<R>;
  describe: (task: T) => string;
  onResult?: (index: number, result: R) => void;
}): Promise<R[]> {
  const { tasks } = options;
  const results: R[] = new Array<R>(tasks.length);
  const threads = Math.max(1, Math.min(options.threads, tasks.length));
  if (threads === 1) {
    for (const [index, task] of tasks.entries()) {
      results[index] = await options.inline(task);
      options.onResult?.(index, results[index]!);
    }
    return results;
  }
  const script = path.join(projectRoot(), 'bin', `${options.entry}.js`);
  const workers: Worker[] = [];
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      const feed = (worker: Worker) => {
        if (next >= tasks.length) return;
        const id = next++;
        worker.postMessage({ id, task: tasks[id] });
      };
      for (let t = 0; t < threads; t += 1) {
        const worker = new Worker(script);
        workers.push(worker);
        worker.on('message', (reply: Reply<R>) => {
          if ('error' in reply) {
            fail(new AppError('INTERNAL', `${options.describe(tasks[reply.id]!)}: ${reply.error}`));
            return;
          }
          results[reply.id] = reply.result;
          options.onResult?.(reply.id, reply.result);
          finished += 1;
          if (finished === tasks.length) resolve();
          else feed(worker);
        });
        worker.on('error', (error) =>
          fail(
            new AppError('INTERNAL', `a ${options.entry} thread failed: ${errorMessage(error)}`, {
              cause: error,
            }),
          ),
        );
        worker.on('exit', (code) => {
          if (code !== 0)
            fail(new AppError('INTERNAL', `a ${options.entry} thread exited with code ${code}`));
        });
        feed(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return results;
}

/** The thread side of runTasksInThreads: answers each task message with `handler`'s result or error. */
export function serveThreadTasks<T, R>(handler: (task: T) => Promise<R>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveThreadTasks runs only in a worker thread');
  port.on('message', (message: { id: number; task: T }) => {
    handler(message.task).then(
      (result) => port.postMessage({ id: message.id, result }),
      (error: unknown) => port.postMessage({ id: message.id, error: errorMessage(error) }),
    );
  });
}
