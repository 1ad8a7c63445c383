import type { Task } from 'graphile-worker';
import { refreshAlarms } from '../services/drift.service';
import type { JobContext } from './context';

/** Recomputes every model's control charts and stores new alarms (queued when an evaluation run ends). */
export function refreshAlarmsTask(context: JobContext): Task {
  return async (_payload, helpers) => {
    const result = await refreshAlarms(context.db);
    helpers.logger.info(`control charts: ${result.series} series, ${result.raised} new alarms`);
  };
}
