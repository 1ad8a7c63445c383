import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../core/errors';
import type { Db } from '../db/connection';
import { startStoreScp } from '../io/dicom/store-scp';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { importDicom, type ImportOptions, type ImportReport } from './import.service';

export interface DicomListenerOptions {
  db: Db;
  blobs: BlobStore;
  port: number;
  aeTitle: string;
  /** Folder for received files; a study waits here until imported. */
  spoolDir: string;
  importOptions: ImportOptions;
  /** A study is complete when nothing of it arrived for this long. */
  idleSeconds: number;
  logger: Logger;
  onImported?: (studyFolder: string, report: ImportReport) => void;
}

export interface DicomListener {
  /** Resolves when no study is waiting or being imported. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Receives studies pushed by a planning system or PACS (C-STORE) and imports each one once it is
 * complete: when no instance of the study arrived for `idleSeconds`. Imports run one at a time; a study
 * folder is deleted after a successful import and moved to `failed/` (kept for inspection) otherwise.
 */
export async function startDicomListener(options: DicomListenerOptions): Promise<DicomListener> {
  const { logger, spoolDir } = options;
  await mkdir(spoolDir, { recursive: true });
  const timers = new Map<string, NodeJS.Timeout>();
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;

  const importStudy = async (folder: string) => {
    try {
      const report = await importDicom(options.db, options.blobs, folder, options.importOptions, logger);
      if (report.studies.length === 0)
        throw new Error(report.failed.map((f) => `${f.what}: ${f.reason}`).join('; ') || 'nothing to import');
      logger.info({ folder, cases: report.studies.map((s) => s.pseudonym) }, 'received study imported');
      options.onImported?.(folder, report);
      await rm(folder, { recursive: true, force: true });
    } catch (error) {
      const failed = path.join(spoolDir, 'failed', `${path.basename(folder)}-${Date.now()}`);
      await mkdir(path.dirname(failed), { recursive: true });
      await rename(folder, failed).catch(() => undefined);
      logger.error({ folder: failed, reason: errorMessage(error) }, 'received study could not be imported');
    }
  };

  const scp = startStoreScp({
    port: options.port,
    aeTitle: options.aeTitle,
    spoolDir,
    logger,
    onInstance: (instance) => {
      const folder = path.dirname(instance.file);
      const existing = timers.get(folder);
      if (existing) clearTimeout(existing);
      else pending++;
      timers.set(
        folder,
        setTimeout(() => {
          timers.delete(folder);
          chain = chain.then(() => importStudy(folder)).finally(() => pending--);
        }, options.idleSeconds * 1000),
      );
    },
  });

  return {
    idle: async () => {
      while (pending > 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await chain;
      }
    },
    close: async () => {
      scp.close();
      for (const timer of timers.values()) clearTimeout(timer);
      pending -= timers.size;
      timers.clear();
      await chain;
    },
  };
}
