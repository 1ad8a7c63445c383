import { AppError } from '../../core/errors';
import type { WindowRunner } from '../../core/inference/pipeline';
import { modelReference, type ModelCard } from '../../core/models/model-card';
import { checkGraphAgainstCard, type ResolvedModelIo } from '../../core/models/model-io';
import { OnnxSession, type OnnxSessionOptions } from './onnx';

interface LoadedModel {
  session: OnnxSession;
  io: ResolvedModelIo;
  run: WindowRunner;
}

/**
 * The ONNX sessions of one worker process: created once per model version on first use, checked against
 * the card before the first run, shared by every job of that process, released on close.
 */
export class ModelSessions {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly options: OnnxSessionOptions = {}) {}

  /** The window runner for a model version; `bytes` is only asked for when the session is not loaded. */
  async runner(sha256: string, card: ModelCard, bytes: () => Promise<Uint8Array>): Promise<WindowRunner> {
    let entry = this.loaded.get(sha256);
    if (entry === undefined) {
      entry = this.load(sha256, card, bytes);
      this.loaded.set(sha256, entry);
      entry.catch(() => this.loaded.delete(sha256));
    }
    return (await entry).run;
  }

  private async load(
    sha256: string,
    card: ModelCard,
    bytes: () => Promise<Uint8Array>,
  ): Promise<LoadedModel> {
    const name = modelReference(card);
    const session = await OnnxSession.load(await bytes(), name, this.options);
    const { problems, io } = checkGraphAgainstCard(session.signature(), card);
    if (problems.length > 0 || io === undefined) {
      await session.release();
      throw new AppError(
        'INVALID_INPUT',
        `${name} (sha256 ${sha256.slice(0, 12)}…) does not fit its card:\n  ${problems.join('\n  ')}`,
      );
    }
    const run: WindowRunner = (input, dims) =>
      session.run(io.input.name, { data: input, dims }, io.output.name);
    return { session, io, run };
  }

  get size(): number {
    return this.loaded.size;
  }

  async close(): Promise<void> {
    const entries = [...this.loaded.values()];
    this.loaded.clear();
    for (const entry of entries) {
      try {
        await (await entry).session.release();
      } catch {
        // a model that failed to load has nothing to release
      }
    }
  }
}
