import { readFile } from 'node:fs/promises';
import { segmentVolume } from '../src/lib/core/inference/pipeline';
import { parseModelCardJson } from '../src/lib/core/models/model-card';
import { gridAffine } from '../src/lib/core/volume/volume';
import { OnnxSession } from '../src/lib/server/inference/onnx';
import { defaultDemoOptions, planDemoCohort, renderDemoCase } from '../src/lib/server/services/demo.service';
const dir = process.argv[2]!;
const names = ['thorax-context-net-1.0', 'thorax-context-net-2.0', 'thorax-threshold-1.0'];
const models = [];
for (const n of names) {
  const card = parseModelCardJson(await readFile(`${dir}/${n}.json`, 'utf8'), n);
  const s = await OnnxSession.load(await readFile(`${dir}/${n}.onnx`), n, { intraOpThreads: 1 });
  models.push({ n, card, s });
}
const plans = planDemoCohort(defaultDemoOptions).filter((p) => p.split === 'test');
for (const plan of plans) {
  const { phantom, hu } = renderDemoCase(plan);
  const ct = { data: hu, dims: plan.grid.dims, spacingMm: plan.grid.spacingMm, affineIjkToLps: gridAffine([1,0,0,0,1,0,0,0,1], plan.grid.spacingMm, plan.grid.originLps) };
  for (const m of models) {
    const seg = await segmentVolume(ct, m.card, (data, dims) => m.s.run('image' in {} ? 'image' : (m.card.input.kind === '2d' ? 'slice' : 'image'), { data, dims }, 'logits'));
    const dice: string[] = [];
    for (const [name, mask] of seg.masks) {
      const truth = phantom.structures.find((s) => s.tg263Name === name)!.mask;
      let a = 0, b = 0, ab = 0;
      for (let i = 0; i < mask.length; i++) { a += mask[i]; b += truth[i]; ab += mask[i] & truth[i]; }
      dice.push(`${name}=${((2 * ab) / (a + b)).toFixed(3)}`);
    }
    console.log(plan.patientId, plan.scanner.tags.convolutionKernel, m.n, `${(seg.timings.totalMs/1000).toFixed(1)}s inf ${(seg.timings.inferenceMs/1000).toFixed(1)}s`, dice.join(' '));
  }
}
