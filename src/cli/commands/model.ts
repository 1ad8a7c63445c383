import path from 'node:path';
import type { Command } from 'commander';
import { parseModelCardJson } from '../../lib/core/models/model-card';
import { listModelVersions, registerModel } from '../../lib/server/services/model-registry.service';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { cliActor, readInputFile, withCliDatabase } from '../lifecycle';
import { audit } from '../../lib/server/services/account.service';

/** `contourbench model add MODEL.onnx --card CARD.json` and `contourbench model list`. */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('the model registry (ONNX files with model cards)');
  model
    .command('add')
    .description(
      'register an ONNX model with its card; a version is immutable, adding the same bytes again is a no-op',
    )
    .argument('<model>', 'ONNX file')
    .requiredOption('--card <file>', 'model card (JSON, see the README)')
    .action(async (file: string, options: { card: string }) => {
      const bytes = await readInputFile(file);
      const cardText = (await readInputFile(options.card)).toString('utf8');
      // Parse before opening the database, so a bad card fails fast and names its file.
      const card = parseModelCardJson(cardText, options.card);
      const result = await withCliDatabase('model', async (db, config) => {
        const registered = await registerModel(
          db,
          new FileBlobStore(path.join(config.dataDir, 'blobs')),
          bytes,
          card,
          { onnx: file, card: options.card },
          { maxBytes: config.maxModelBytes },
        );
        if (registered.created)
          await audit(db, cliActor(), {
            action: 'model.register',
            objectType: 'model_version',
            objectId: registered.reference,
            details: { sha256: registered.sha256 },
          });
        return registered;
      });
      process.stdout.write(
        result.created
          ? `Registered ${result.reference} (sha256 ${result.sha256}).\n`
          : `${result.reference} is already registered with these bytes and this card; nothing changed.\n`,
      );
    });
  model
    .command('list')
    .description('list registered model versions')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const versions = await withCliDatabase('model', (db) => listModelVersions(db));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(versions, null, 2)}\n`);
        return;
      }
      if (versions.length === 0) {
        process.stdout.write(
          'No models registered. Add one with `contourbench model add MODEL.onnx --card CARD.json`.\n',
        );
        return;
      }
      for (const v of versions) {
        const card = v.card as { input?: { kind?: string }; intendedStructures?: string[] };
        process.stdout.write(
          `${v.name}@${v.version}  ${card.input?.kind ?? '?'}  ${(card.intendedStructures ?? []).join(', ')}  sha256 ${v.onnxSha256.slice(0, 12)}  ${v.registeredAt.toISOString()}\n`,
        );
      }
    });
}
