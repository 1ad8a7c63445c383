import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareTree } from '../helpers/compare-tree';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const metricsDir = path.resolve(root, '../shared/testdata/metrics');
const cases = (
  JSON.parse(readFileSync(path.join(metricsDir, 'expected.json'), 'utf8')) as {
    cases: Array<{ name: string; reference: string; test: string; expected: Record<string, unknown> }>;
  }
).cases;

function contourbench(...args: string[]) {
  const run = spawnSync(process.execPath, ['bin/contourbench.js', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('contourbench metrics', () => {
  it.each(['c06_cord_tube', 'c08_pred_empty', 'c09_both_empty'])(
    '--json prints every reference key of %s',
    (name) => {
      const testCase = cases.find((c) => c.name === name)!;
      const run = contourbench(
        'metrics',
        '--reference',
        path.join(metricsDir, testCase.reference),
        '--candidate',
        path.join(metricsDir, testCase.test),
        '--json',
      );
      expect(run.status).toBe(0);
      const problems: string[] = [];
      compareTree(testCase.expected, JSON.parse(run.stdout), name, problems);
      expect(problems).toEqual([]);
    },
  );

  it('prints a readable table by default', () => {
    const run = contourbench(
      'metrics',
      '-r',
      path.join(metricsDir, 'c06_cord_tube/ref.nii.gz'),
      '-c',
      path.join(metricsDir, 'c06_cord_tube/test.nii.gz'),
      '--tolerance',
      '1,2.5',
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Dice\s+0\.7409/);
    expect(run.stdout).toMatch(/HD95\s+1\.96 mm/);
    expect(run.stdout).toMatch(/Surface Dice @ 2\.5 mm/);
  });

  it('names a missing file and exits 1', () => {
    const run = contourbench(
      'metrics',
      '-r',
      path.join(metricsDir, 'c06_cord_tube/ref.nii.gz'),
      '-c',
      '/no/such.nii.gz',
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('/no/such.nii.gz: no such file');
  });

  it('names the grids that differ and exits 1', () => {
    const run = contourbench(
      'metrics',
      '-r',
      path.join(metricsDir, 'c04_ellipsoid_oblique_subvoxel/ref.nii.gz'),
      '-c',
      path.join(metricsDir, 'c06_cord_tube/test.nii.gz'),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('is not on the grid of');
    expect(run.stderr).toContain('dimensions differ: 256x256x60 vs 256x256x80');
  });

  it('refuses a file that is not NIfTI', () => {
    const run = contourbench(
      'metrics',
      '-r',
      path.join(root, 'README.md'),
      '-c',
      path.join(root, 'README.md'),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/README\.md: not a NIfTI-1 file/);
  });

  it('refuses a negative tolerance before reading anything, with exit status 2', () => {
    const run = contourbench('metrics', '-r', 'a.nii', '-c', 'b.nii', '--tolerance', '1,-2');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--tolerance "1,-2"');
  });
});
