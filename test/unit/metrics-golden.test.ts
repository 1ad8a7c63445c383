import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { metricsToJson } from '../../src/lib/core/metrics/metric-json';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { readMaskPair } from '../../src/lib/server/io/nifti-file';
import { compareTree } from '../helpers/compare-tree';

const metricsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/metrics',
);

interface Case {
  name: string;
  reference: string;
  test: string;
  expected: Record<string, unknown>;
}

const cases = (JSON.parse(readFileSync(path.join(metricsDir, 'expected.json'), 'utf8')) as { cases: Case[] })
  .cases;

describe('metric engine against the reference implementation', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const { reference, candidate } = await readMaskPair(
      path.join(metricsDir, testCase.reference),
      path.join(metricsDir, testCase.test),
    );
    const json = JSON.parse(JSON.stringify(metricsToJson(computeMetrics(reference, candidate))));
    const problems: string[] = [];
    compareTree(testCase.expected, json, testCase.name, problems);
    expect(problems).toEqual([]);
  });
});
