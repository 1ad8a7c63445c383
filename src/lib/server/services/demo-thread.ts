import { serveThreadTasks } from '../threads/task-threads';
import { generateDemoCase, planDemoCohort, type DemoCaseTask } from './demo.service';

// One demo case per task: the plan is recomputed here from the options (cheap, nothing rendered).
serveThreadTasks((task: DemoCaseTask) =>
  generateDemoCase(task.outDir, task.options, planDemoCohort(task.options)[task.index]!),
);
