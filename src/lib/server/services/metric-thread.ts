import { parentPort } from 'node:worker_threads';
import { computeMetrics, type MetricOptions } from '../../core/metrics/metric-set';
import { Workspace } from '../../core/metrics/workspace';
import type { Mask } from '../../core/volume/volume';

export interface MetricTask {
  id: number;
  reference: Mask;
  test: Mask;
  options: MetricOptions;
}

// One workspace per thread: its buffers are reused across every pair this thread computes.
const workspace = new Workspace();

parentPort?.on('message', (task: MetricTask) => {
  try {
    const result = computeMetrics(task.reference, task.test, task.options, workspace);
    parentPort?.postMessage({ id: task.id, result });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    parentPort?.postMessage({ id: task.id, error: { name, message } });
  }
});
