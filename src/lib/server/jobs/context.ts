import type { Db } from '../db/connection';
import type { Logger } from '../logger';

/** What every task receives when the worker builds its task list. */
export interface JobContext {
  db: Db;
  logger: Logger;
}
