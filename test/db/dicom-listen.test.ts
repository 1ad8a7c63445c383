import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/server/logger';
import { startDicomListener, type DicomListener } from '../../src/lib/server/services/dicom-listener.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { freePort } from '../helpers/free-port';
import { createTestDatabase, type TestDatabase } from './test-database';

const series = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/series',
);
const storescu = spawnSync('storescu', ['--version']).status === 0;
// CI installs dcmtk; elsewhere the test says why it did not run
/** Runs storescu without blocking the event loop (the receiver runs in this process). */
function storeScu(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('storescu', args);
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (status) => resolve({ status, output }));
  });
}

const describeWithDcmtk = storescu || process.env.CI === 'true' ? describe : describe.skip;

describeWithDcmtk('DICOM C-STORE receiver (dcmtk storescu pushing the breast study)', () => {
  let database: TestDatabase;
  let dir: string;
  let listener: DicomListener;
  let port: number;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-scp-'));
    port = await freePort();
    listener = await startDicomListener({
      db: database.db,
      blobs: new FileBlobStore(path.join(dir, 'blobs')),
      port,
      aeTitle: 'CONTOURBENCH',
      spoolDir: path.join(dir, 'incoming'),
      idleSeconds: 1,
      logger: createLogger('silent'),
      importOptions: { siteCode: 'SITE-PUSH', observerCode: 'RO2', laterality: 'left' },
    });
  });

  afterAll(async () => {
    await listener?.close();
    await database?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports a study once it is complete', async () => {
    const files = (await readdir(series)).map((file) => path.join(series, file));
    const push = await storeScu(['-aec', 'CONTOURBENCH', '127.0.0.1', String(port), ...files]);
    expect(push.status, push.output).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await listener.idle();
    const cases = await database.db.selectFrom('patient_case').select(['pseudonym']).execute();
    expect(cases).toHaveLength(1);
    expect(cases[0].pseudonym).toMatch(/^SITE-PUSH-/);
    const contours = await database.db.selectFrom('contour').select('voxel_count').execute();
    expect(contours.map((c) => c.voxel_count).sort((a, b) => a - b)).toEqual([
      3793, 115775, 127003, 578732, 4298701,
    ]);
    expect(await readdir(path.join(dir, 'incoming'))).toEqual([]);
  });

  it('refuses an association addressed to another AE title', async () => {
    const push = await storeScu([
      '-aec',
      'SOMEONE_ELSE',
      '127.0.0.1',
      String(port),
      path.join(series, 'CT.001.dcm'),
    ]);
    expect(push.status).not.toBe(0);
    expect(push.output).toContain('Called AE Title Not Recognized');
  });
});
