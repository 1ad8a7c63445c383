import type { TaskList } from 'graphile-worker';
import type { JobContext } from './context';
import { consensusCaseTask } from './consensus-case.task';
import { evaluateCaseTask } from './evaluate-case.task';
import { healthTask } from './health.task';
import { refreshAlarmsTask } from './refresh-alarms.task';
import { taskIdentifier } from './queues';

export type { JobContext } from './context';

/** Names of the tasks ContourBench defines. */
export const taskNames = ['health', 'evaluate-case', 'consensus-case', 'refresh-alarms'] as const;
export type TaskName = (typeof taskNames)[number];

/** The task list for a worker bound to `queue` (null: the central workers). */
export function createTaskList(context: JobContext, queue: string | null): TaskList {
  const tasks: Record<TaskName, TaskList[string]> = {
    health: healthTask(context),
    'evaluate-case': evaluateCaseTask(context),
    'consensus-case': consensusCaseTask(context),
    'refresh-alarms': refreshAlarmsTask(context),
  };
  return Object.fromEntries(taskNames.map((name) => [taskIdentifier(name, queue), tasks[name]]));
}
