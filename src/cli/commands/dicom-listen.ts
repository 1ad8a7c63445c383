import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { startDicomListener } from '../../lib/server/services/dicom-listener.service';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { runUntilSignal } from '../lifecycle';
import { parseOption, portNumber, positiveInteger } from '../options';

const aeTitle = z
  .string()
  .regex(/^[ -[\]-~]{1,16}$/, 'an AE title is 1 to 16 printable characters without a backslash')
  .transform((title) => title.trim());
const laterality = z.enum(['left', 'right', 'bilateral'], { error: 'expected left, right or bilateral' });

export function registerDicomListen(program: Command): void {
  program
    .command('dicom-listen')
    .description('receive studies by DICOM C-STORE and import each once complete')
    .requiredOption('--site <code>', 'site the received studies come from')
    .option('-p, --port <port>', 'TCP port', '11112')
    .option('--ae-title <title>', 'this receiver’s AE title', 'CONTOURBENCH')
    .option('--observer <code>', 'physician who drew the received structure sets')
    .option('--laterality <side>', 'treated side of the received cases')
    .option('--idle-seconds <n>', 'a study is complete after this long without new instances', '10')
    .action(
      async (options: {
        site: string;
        port: string;
        aeTitle: string;
        observer?: string;
        laterality?: string;
        idleSeconds: string;
      }) => {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const port = parseOption(portNumber, '--port', options.port);
        const title = parseOption(aeTitle, '--ae-title', options.aeTitle);
        const idleSeconds = parseOption(positiveInteger(3600), '--idle-seconds', options.idleSeconds);
        const opened = await openDatabase(config, logger, {
          migrate: true,
          applicationName: 'contourbench-dicom',
        });
        const listener = await startDicomListener({
          db: opened.connection.db,
          blobs: new FileBlobStore(path.join(config.dataDir, 'blobs')),
          port,
          aeTitle: title,
          spoolDir: path.join(config.dataDir, 'incoming'),
          idleSeconds,
          logger,
          importOptions: {
            siteCode: options.site,
            observerCode: options.observer,
            laterality:
              options.laterality === undefined
                ? undefined
                : parseOption(laterality, '--laterality', options.laterality),
          },
        });
        process.stdout.write(`Receiving DICOM as ${title} on port ${port}. Press Ctrl+C to stop.\n`);
        await runUntilSignal(logger, async () => {
          await listener.close();
          await opened.close();
        });
      },
    );
}
