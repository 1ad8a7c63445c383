import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('loadConfig', () => {
  it('fills defaults when the environment is empty', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('.contourbench'));
    expect(config.embeddedPostgresPort).toBe(54329);
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.inProcessWorker).toBe(true);
    expect(config.workerConcurrency).toBe(1);
    expect(config.logLevel).toBe('info');
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://root@127.0.0.1:5432/test',
      CONTOURBENCH_DATA_DIR: '/var/lib/contourbench',
      CONTOURBENCH_PG_PORT: '6000',
      HOST: '0.0.0.0',
      PORT: '8080',
      LOG_LEVEL: 'debug',
      CONTOURBENCH_IN_PROCESS_WORKER: 'false',
      CONTOURBENCH_WORKER_CONCURRENCY: '4',
      CONTOURBENCH_WORKER_HEARTBEAT_SECONDS: '2',
      CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS: '30',
      CONTOURBENCH_DOSE_METRICS: 'Heart:Dmean',
    });
    expect(config).toEqual({
      databaseUrl: 'postgres://root@127.0.0.1:5432/test',
      dataDir: '/var/lib/contourbench',
      embeddedPostgresPort: 6000,
      host: '0.0.0.0',
      port: 8080,
      logLevel: 'debug',
      inProcessWorker: false,
      workerConcurrency: 4,
      workerHeartbeatSeconds: 2,
      workerDeadAfterSeconds: 30,
      maxUploadBytes: 2048 * 1024 * 1024,
      maxModelBytes: 1024 * 1024 * 1024,
      doseMetrics: 'Heart:Dmean',
    });
  });

  it('takes the dose metric list, and refuses one that does not parse', () => {
    expect(loadConfig({}).doseMetrics).toContain('Heart:Dmean');
    expect(loadConfig({ CONTOURBENCH_DOSE_METRICS: 'Heart:D2cc, Lung_ipsi:V5Gy' }).doseMetrics).toBe(
      'Heart:D2cc, Lung_ipsi:V5Gy',
    );
    expect(() => loadConfig({ CONTOURBENCH_DOSE_METRICS: 'Heart:Dmedian' })).toThrow(
      /CONTOURBENCH_DOSE_METRICS must be a list like/,
    );
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).databaseUrl).toBeUndefined();
  });

  it('names every bad variable and its value', () => {
    expect(() =>
      loadConfig({ DATABASE_URL: 'mysql://x', PORT: '70000', CONTOURBENCH_IN_PROCESS_WORKER: 'maybe' }),
    ).toThrowError(
      /DATABASE_URL="mysql:\/\/x": DATABASE_URL must be a postgres[\s\S]*PORT="70000": PORT must be between 1 and 65535[\s\S]*CONTOURBENCH_IN_PROCESS_WORKER="maybe"/,
    );
  });

  it('wants a dead-after time of at least two heartbeats', () => {
    expect(loadConfig({}).workerDeadAfterSeconds).toBe(90);
    expect(() =>
      loadConfig({
        CONTOURBENCH_WORKER_HEARTBEAT_SECONDS: '10',
        CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS: '15',
      }),
    ).toThrowError(/CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS="15": .* at least twice the heartbeat interval/);
  });

  it('rejects a fractional concurrency', () => {
    expect(() => loadConfig({ CONTOURBENCH_WORKER_CONCURRENCY: '1.5' })).toThrowError(
      /CONTOURBENCH_WORKER_CONCURRENCY="1.5": CONTOURBENCH_WORKER_CONCURRENCY must be an integer/,
    );
  });
});
