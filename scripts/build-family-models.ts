// Writes the tiny test models of each model family (3D U-Net, 2D, 2.5D, transformer) with their cards:
//   npx tsx scripts/build-family-models.ts OUT_DIR [--seed N]
// They run through the whole pipeline but segment nothing useful; the demo models are built separately.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FAMILY_BUILDERS } from './onnx/family-models';

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--'));
const seedIndex = args.indexOf('--seed');
const seed = seedIndex >= 0 ? Number(args[seedIndex + 1]) : 1;
if (out === undefined || !Number.isInteger(seed)) {
  process.stderr.write('usage: tsx scripts/build-family-models.ts OUT_DIR [--seed N]\n');
  process.exit(2);
}
await mkdir(out, { recursive: true });
for (const build of FAMILY_BUILDERS) {
  const model = build(seed);
  const base = path.join(out, model.card.name);
  await writeFile(`${base}.onnx`, model.bytes);
  await writeFile(`${base}.json`, `${JSON.stringify(model.card, null, 2)}\n`);
  process.stdout.write(`${base}.onnx (${model.bytes.length} bytes, ${model.family}) and ${base}.json\n`);
}
