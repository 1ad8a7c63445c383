import type { Db } from '../db/connection';
import type { ModelSessions } from '../inference/model-sessions';
import type { Logger } from '../logger';
import type { MetricPool } from '../services/metric-pool';
import type { BlobStore } from '../storage/blob-store';

/** What every task receives when the worker builds its task list. */
export interface JobContext {
  db: Db;
  logger: Logger;
  blobs: BlobStore;
  /** the ONNX sessions of this worker process, one per model version */
  sessions: ModelSessions;
  /** worker threads for the metrics of this process's jobs */
  metricPool: MetricPool;
}
