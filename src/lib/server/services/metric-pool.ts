import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError } from '../../core/errors';
import {
  cropPairForMetrics,
  restoreCroppedResult,
  type CroppedPair,
  type MetricOptions,
  type MetricResult,
} from '../../core/metrics/metric-set';
import type { Mask } from '../../core/volume/volume';
import { projectRoot } from '../paths';

interface Pending {
  id: number;
  pair: CroppedPair;
  options: MetricOptions;
  resolve: (result: MetricResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Pending | null;
}

type Reply = { id: number; result: MetricResult } | { id: number; error: { name: string; message: string } };

/**
 * Computes the metrics of many structures in parallel on worker threads (one per core by default). Each
 * pair is cropped to its union bounding box before it is sent, so a structure costs a few megabytes of
 * transfer, not the whole grid; results equal `computeMetrics` on the full pair.
 */
export class MetricPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size = Math.max(1, os.availableParallelism())) {
    if (!Number.isInteger(size) || size < 1)
      throw new AppError('INVALID_ARGUMENT', `pool size must be >= 1, got ${size}`);
  }

  compute(reference: Mask, test: Mask, options: MetricOptions = {}): Promise<MetricResult> {
    if (this.closed) return Promise.reject(new AppError('INTERNAL', 'the metric pool is closed'));
    const pair = cropPairForMetrics(reference, test);
    return new Promise<MetricResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, pair, options, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the threads; pairs still queued are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0))
      pending.reject(new AppError('INTERNAL', 'the metric pool was closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((candidate) => candidate.task === null);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const pending = this.queue.shift()!;
      slot.task = pending;
      const { reference, test } = pending.pair;
      // a busy thread keeps the process alive; an idle one does not
      slot.worker.ref();
      slot.worker.postMessage({ id: pending.id, reference, test, options: pending.options }, [
        reference.data.buffer as ArrayBuffer,
        test.data.buffer as ArrayBuffer,
      ]);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(projectRoot(), 'bin', 'metric-thread.js'));
    const slot: Slot = { worker, task: null };
    worker.on('message', (reply: Reply) => {
      const pending = slot.task;
      if (!pending || pending.id !== reply.id) return;
      slot.task = null;
      worker.unref();
      if ('error' in reply) {
        const error =
          reply.error.name === 'RangeError'
            ? new RangeError(reply.error.message)
            : new Error(reply.error.message);
        pending.reject(error);
      } else {
        pending.resolve(restoreCroppedResult(reply.result, pending.pair));
      }
      this.dispatch();
    });
    const fail = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.task?.reject(
        new AppError('INTERNAL', `a metric thread failed: ${error.message}`, { cause: error }),
      );
      slot.task = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && code !== 0) fail(new Error(`exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }
}
