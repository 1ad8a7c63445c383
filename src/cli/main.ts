import { Command, CommanderError } from 'commander';
import { errorMessage, isAppError } from '../lib/core/errors';
import { configVariables } from '../lib/server/config';
import { appVersion } from '../lib/server/paths';
import { registerAccounts } from './commands/accounts';
import { registerAlarms, registerCriteria } from './commands/analytics';
import { registerCohorts } from './commands/cohorts';
import { registerConsensus } from './commands/consensus';
import { registerDemo } from './commands/demo';
import { registerDose } from './commands/dose';
import { registerDicomListen } from './commands/dicom-listen';
import { registerEditing } from './commands/editing';
import { registerEvaluate } from './commands/evaluate';
import { registerExportRtStruct } from './commands/export-rtstruct';
import { registerImport } from './commands/import';
import { registerMetrics } from './commands/metrics';
import { registerMigrate } from './commands/migrate';
import { registerModelCommands } from './commands/model';
import { registerRasterize } from './commands/rasterize';
import { registerServe } from './commands/serve';
import { registerSites } from './commands/sites';
import { registerStructures } from './commands/structures';
import { registerWorker } from './commands/worker';

/** The contourbench program; each subcommand lives in ./commands and registers itself here. */
export function createProgram(): Command {
  const program = new Command('contourbench')
    .description('Quality assurance and benchmarking of AI auto-contouring in radiotherapy')
    .version(appVersion(), '-V, --version')
    // program options only before the subcommand, so `cohort export --version N` is the command's own
    .enablePositionalOptions()
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nEnvironment:\n${configVariables.map((v) => `  ${v.name.padEnd(32)} ${v.meaning} (default: ${v.fallback})`).join('\n')}\n`,
    );
  registerServe(program);
  registerWorker(program);
  registerMigrate(program);
  registerMetrics(program);
  registerRasterize(program);
  registerImport(program);
  registerDicomListen(program);
  registerExportRtStruct(program);
  registerStructures(program);
  registerSites(program);
  registerEditing(program);
  registerModelCommands(program);
  registerEvaluate(program);
  registerConsensus(program);
  registerDose(program);
  registerCriteria(program);
  registerAlarms(program);
  registerAccounts(program);
  registerCohorts(program);
  registerDemo(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = createProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exit(error.exitCode);
    }
    const prefix = isAppError(error) ? '' : 'Unexpected error: ';
    process.stderr.write(`contourbench: ${prefix}${errorMessage(error)}\n`);
    if (!isAppError(error) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(
      isAppError(error) && (error.code === 'INVALID_ARGUMENT' || error.code === 'CONFIG_INVALID') ? 2 : 1,
    );
  }
}

await main(process.argv);
