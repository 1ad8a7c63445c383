import type { Command } from 'commander';
import {
  changeCohortCases,
  checkCohort,
  decideFinding,
  cohortVersions,
  createCohort,
  freezeCohort,
  stratification,
} from '../../lib/server/services/cohort.service';
import { cliActor, withCliDatabase, withCliStores } from '../lifecycle';
import { collect, textTable } from '../options';
import { registerCohortExport } from './cohort-export';

export function registerCohorts(program: Command): void {
  const cohort = program.command('cohort').description('curated cohorts: build, check, freeze into versions');
  cohort
    .command('create')
    .description('create a cohort of the cases a selection matches')
    .argument('<name>', 'cohort name')
    .option('--site <code>', 'site (repeatable)', collect)
    .option('--laterality <side>', 'left, right or bilateral')
    .option('--surgery <type>', 'breast_conserving, mastectomy, mastectomy_reconstruction or none')
    .option('--protocol <name>', 'contouring protocol, e.g. ESTRO or RTOG')
    .option('--from <date>', 'first acquisition day, YYYY-MM-DD')
    .option('--to <date>', 'last acquisition day, YYYY-MM-DD')
    .option('--manufacturer <text>', 'scanner manufacturer contains this')
    .option('--scanner-model <text>', 'scanner model contains this')
    .option('--kernel <text>', 'reconstruction kernel contains this')
    .option(
      '--structure <name>',
      'cases with a physician or consensus contour of this structure (repeatable)',
      collect,
    )
    .option('--description <text>', 'what the cohort is for', '')
    .action(
      async (
        name: string,
        options: {
          site?: string[];
          laterality?: string;
          surgery?: string;
          protocol?: string;
          from?: string;
          to?: string;
          manufacturer?: string;
          scannerModel?: string;
          kernel?: string;
          structure?: string[];
          description: string;
        },
      ) => {
        const { description, site, structure, ...rest } = options;
        await withCliDatabase('cohort', async (db) => {
          const created = await createCohort(
            db,
            { name, description, selection: { ...rest, sites: site, structures: structure } },
            cliActor(),
          );
          process.stdout.write(`Cohort "${name}": ${created.cases} case(s)\n`);
        });
      },
    );
  cohort
    .command('cases')
    .description('add or remove cases by pseudonym, with a reason')
    .argument('<name>', 'cohort name')
    .option('--add <pseudonym>', 'case to add (repeatable)', collect)
    .option('--remove <pseudonym>', 'case to remove (repeatable)', collect)
    .requiredOption('--reason <text>', 'why')
    .action(async (name: string, options: { add?: string[]; remove?: string[]; reason: string }) => {
      await withCliDatabase('cohort', async (db) => {
        const changed = await changeCohortCases(db, name, options, cliActor());
        process.stdout.write(`Cohort "${name}": ${changed.added} added, ${changed.removed} removed\n`);
      });
    });
  cohort
    .command('summary')
    .description('stratification: cases per site, laterality, surgery and protocol; references per structure')
    .argument('<name>', 'cohort name')
    .option(
      '--reference <rule>',
      'reference policy entry, e.g. "*=staple", "*=majority" or "Heart=observer:EXPERT" (repeatable)',
      collect,
    )
    .option('--json', 'as JSON')
    .action(async (name: string, options: { reference?: string[]; json?: boolean }) => {
      await withCliDatabase('cohort', async (db) => {
        const summary = await stratification(db, name, options.reference);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        process.stdout.write(`Cohort "${name}": ${summary.cases} case(s)\n\n`);
        process.stdout.write(
          textTable([
            ['site', 'laterality', 'surgery', 'protocol', 'cases'],
            ...summary.strata.map((s) => [s.site, s.laterality, s.surgery, s.protocol, String(s.cases)]),
          ]),
        );
        process.stdout.write('\n');
        process.stdout.write(
          textTable([
            ['structure', 'contoured', 'reference', 'with reference'],
            ...summary.structures.map((s) => [
              s.structure,
              String(s.contoured),
              s.rule ?? '-',
              s.withReference === null ? '-' : String(s.withReference),
            ]),
          ]),
        );
      });
    });
  cohort
    .command('check')
    .description(
      'case checks: missing structures, wrong-side targets, volume outliers, duplicate patients and masks',
    )
    .argument('<name>', 'cohort name')
    .option(
      '--structure <name>',
      'a structure every case must have (repeatable; default: what most cases of its side have)',
      collect,
    )
    .option('--json', 'as JSON')
    .action(async (name: string, options: { structure?: string[]; json?: boolean }) => {
      await withCliStores('cohort', async (deps) => {
        const checked = await checkCohort(deps, name, options.structure);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(checked, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `Cohort "${name}": ${checked.cases} case(s), ${checked.findings.length} finding(s)\n`,
        );
        for (const f of checked.findings)
          process.stdout.write(
            `  ${f.check.padEnd(17)} ${f.message}${f.decision ? ` [${f.decision.decision}: ${f.decision.note}]` : ''}\n`,
          );
      });
    });
  cohort
    .command('decide')
    .description("accept a check's finding with a note, or exclude the case from the cohort")
    .argument('<name>', 'cohort name')
    .requiredOption('--case <pseudonym>', 'the case')
    .requiredOption(
      '--check <name>',
      'missing_structure, laterality, volume_outlier, duplicate_case or duplicate_mask',
    )
    .option('--structure <name>', 'the structure of the finding, when it has one')
    .option('--exclude', 'exclude the case instead of accepting the finding')
    .requiredOption('--note <text>', 'what was checked and why')
    .action(
      async (
        name: string,
        options: { case: string; check: string; structure?: string; exclude?: boolean; note: string },
      ) => {
        await withCliStores('cohort', async (deps) => {
          await decideFinding(
            deps,
            name,
            {
              pseudonym: options.case,
              check: options.check,
              structure: options.structure,
              decision: options.exclude ? 'excluded' : 'accepted',
              note: options.note,
            },
            cliActor(),
          );
          process.stdout.write(
            `${options.case} ${options.check}: ${options.exclude ? 'case excluded' : 'accepted'}\n`,
          );
        });
      },
    );
  cohort
    .command('freeze')
    .description('freeze the cohort into an immutable version with a content hash')
    .argument('<name>', 'cohort name')
    .requiredOption(
      '--reference <rule>',
      'reference policy entry: "*=staple", "*=majority", "Heart=observer:EXPERT" (repeatable)',
      collect,
    )
    .option('--note <text>', 'what this version is for', '')
    .action(async (name: string, options: { reference: string[]; note: string }) => {
      await withCliStores('cohort', async (deps) => {
        const frozen = await freezeCohort(deps, name, options, cliActor());
        process.stdout.write(
          `${frozen.created ? 'Froze' : 'Unchanged since'} "${name}" version ${frozen.version}: ${frozen.cases} case(s), ` +
            `${frozen.references} reference contour(s), sha256 ${frozen.contentSha256}\n`,
        );
      });
    });
  registerCohortExport(cohort);
  cohort
    .command('versions')
    .description('the frozen versions of a cohort')
    .argument('<name>', 'cohort name')
    .action(async (name: string) => {
      await withCliDatabase('cohort', async (db) => {
        const versions = await cohortVersions(db, name);
        process.stdout.write(
          textTable([
            ['version', 'frozen', 'by', 'cases', 'sha256', 'note'],
            ...versions.map((v) => [
              String(v.version),
              v.frozenAt.toISOString().slice(0, 16).replace('T', ' '),
              v.frozenBy ?? 'cli',
              String(v.caseCount),
              v.contentSha256.slice(0, 16),
              v.note,
            ]),
          ]),
        );
      });
    });
}
