import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { metricsToJson } from '../../src/lib/core/metrics/metric-json';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { readMaskPair } from '../../src/lib/server/io/nifti-file';

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

/** Every leaf of `expected` found in `actual` at the same path: numbers within 1e-6 relative (1e-6 absolute near 0). */
function compareTree(expected: unknown, actual: unknown, where: string, problems: string[]): void {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object') {
      problems.push(`${where}: expected an object, got ${JSON.stringify(actual)}`);
      return;
    }
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'oracle_version' || key === 'elapsed_s') continue;
      compareTree(value, (actual as Record<string, unknown>)[key], `${where}.${key}`, problems);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      problems.push(`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
      return;
    }
    expected.forEach((value, n) => compareTree(value, actual[n], `${where}[${n}]`, problems));
    return;
  }
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tolerance = Math.max(1e-6 * Math.abs(expected), 1e-6);
    if (!(Math.abs(actual - expected) <= tolerance))
      problems.push(`${where}: expected ${expected}, got ${actual}`);
    return;
  }
  if (expected !== actual)
    problems.push(`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

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
