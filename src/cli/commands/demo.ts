import type { Command } from 'commander';
import { serve } from './serve';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start ContourBench with the demo multi-centre cohort (what `npm run demo` runs)')
    .option('-p, --port <port>', 'port to listen on (default: PORT or 3000)')
    .action((options: { port?: string }) =>
      serve({
        port: options.port,
        worker: true,
        banner:
          'The demo cohort generator is not part of this version yet: the service is running with an empty database.\n',
      }),
    );
}
