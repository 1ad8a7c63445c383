import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/server/logger';
import type { HealthReport } from '../../src/lib/server/services/health.service';
import { ensureWebBuild } from '../../src/cli/web-server';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount, signInCookie } from '../helpers/accounts';
import { freePort } from '../helpers/free-port';
import { serve, stop, type Served } from '../helpers/serve';

async function health(url: string): Promise<{ status: number; body: HealthReport }> {
  const response = await fetch(`${url}/api/health`);
  return { status: response.status, body: (await response.json()) as HealthReport };
}

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
}, 300_000);

describe('contourbench serve', () => {
  let database: TestDatabase;
  let served: Served | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    if (served) await stop(served);
    await database?.destroy();
  });

  it('serves health, with the database and the in-process worker, against DATABASE_URL', async () => {
    served = await serve({ DATABASE_URL: database.url });
    const { status, body } = await health(served.url);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.database).toMatchObject({ ok: true, mode: 'external', pendingMigrations: [] });
    expect(body.worker.ok).toBe(true);
    expect(body.worker.inProcess).toBe(true);
    expect(body.worker.livePools).toHaveLength(1);
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);

    // a browser without a session is sent to sign in; signed in, it sees the overview
    const anonymous = await fetch(served.url, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=%2F');
    const account = await createAccount(database.db, 'auditor');
    const page = await fetch(served.url, {
      headers: { cookie: await signInCookie(served.url, account.email) },
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>ContourBench</title>');
    expect(html).toContain('All systems running');
  });

  it('stops cleanly on SIGTERM and removes its worker heartbeat', async () => {
    expect(served).toBeDefined();
    expect(await stop(served!)).toBe(0);
    const pools = await database.db.selectFrom('worker_pool').select('pool_id').execute();
    expect(pools).toEqual([]);
  });
});

describe('contourbench serve without DATABASE_URL', () => {
  let dataDir: string;
  let served: Served | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-e2e-'));
  });

  afterAll(async () => {
    if (served) await stop(served);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('initialises and starts the embedded Postgres under CONTOURBENCH_DATA_DIR', async () => {
    served = await serve({ CONTOURBENCH_DATA_DIR: dataDir, CONTOURBENCH_PG_PORT: String(await freePort()) });
    const { status, body } = await health(served.url);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.database).toMatchObject({ ok: true, mode: 'embedded' });
    expect(body.database.serverVersion).toMatch(/^17\./);
    expect(await stop(served)).toBe(0);
  });
});

describe('contourbench with bad configuration', () => {
  it('names the variable and exits with status 2', async () => {
    const child = spawn(process.execPath, ['bin/contourbench.js', 'migrate', 'status'], {
      env: { ...process.env, DATABASE_URL: 'mysql://nope', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain(
      'DATABASE_URL="mysql://nope": DATABASE_URL must be a postgres:// or postgresql:// connection URL',
    );
  });
});
