import { isDeepStrictEqual } from 'node:util';
import { AppError } from '../../core/errors';
import { modelReference, parseModelCard, type ModelCard } from '../../core/models/model-card';
import { checkGraphAgainstCard } from '../../core/models/model-io';
import type { Db } from '../db/connection';
import { OnnxSession } from '../inference/onnx';
import { checkOnnxFile, DEFAULT_MAX_MODEL_BYTES } from '../inference/onnx-file';
import { upsertBlob } from '../repositories/blob.repository';
import {
  findModelVersion,
  findModelVersionBySha256,
  insertModelVersion,
  listModelVersions,
  upsertModel,
  type ModelVersionRow,
} from '../repositories/model.repository';
import { sha256Hex, type BlobStore } from '../storage/blob-store';

export interface RegisteredModel {
  modelVersionId: number;
  reference: string;
  sha256: string;
  /** false when exactly these bytes and this card were registered before (nothing changed) */
  created: boolean;
}

/**
 * Registers an ONNX model with its card. The file is refused when it is larger than `maxBytes` or is not
 * an ONNX protobuf with a graph (checkOnnxFile), the card is validated, the graph is loaded by
 * onnxruntime and checked against the card (input and output names, ranks, channels, fixed sizes), and
 * only then are the file (content-addressed by sha256) and the version stored, in one transaction.
 *
 * A version is immutable: registering the same bytes and card again is a no-op; other bytes, or another
 * card, under an existing NAME@VERSION are refused, as are bytes already registered under another name.
 */
export async function registerModel(
  db: Db,
  blobs: BlobStore,
  onnxBytes: Uint8Array,
  cardValue: unknown,
  sources: { onnx: string; card: string },
  limits: { maxBytes?: number } = {},
): Promise<RegisteredModel> {
  checkOnnxFile(onnxBytes, sources.onnx, limits.maxBytes ?? DEFAULT_MAX_MODEL_BYTES);
  const card = parseModelCard(cardValue, sources.card);
  const reference = modelReference(card);
  const sha256 = sha256Hex(onnxBytes);

  const existing = await findModelVersion(db, card.name, card.version);
  if (existing !== undefined) return unchanged(existing, card, sha256, sources);
  const sameBytes = await findModelVersionBySha256(db, sha256);
  if (sameBytes !== undefined)
    throw new AppError(
      'CONFLICT',
      `${sources.onnx}: these bytes (sha256 ${sha256.slice(0, 12)}…) are already registered as ${sameBytes.name}@${sameBytes.version}; a file is one model version`,
    );

  const session = await OnnxSession.load(onnxBytes, sources.onnx);
  try {
    const { problems } = checkGraphAgainstCard(session.signature(), card);
    if (problems.length > 0)
      throw new AppError(
        'INVALID_INPUT',
        `${sources.onnx} does not fit ${sources.card}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      );
  } finally {
    await session.release();
  }

  const stored = await blobs.put(onnxBytes);
  return db.transaction().execute(async (trx) => {
    // A concurrent registration of the same version may have won; report what it did.
    const raced = await findModelVersion(trx, card.name, card.version);
    if (raced !== undefined) return unchanged(raced, card, sha256, sources);
    await upsertBlob(trx, { ...stored, mediaType: 'application/onnx' });
    const modelId = await upsertModel(trx, {
      name: card.name,
      vendor: card.vendor,
      description: card.description,
    });
    const modelVersionId = await insertModelVersion(trx, {
      modelId,
      version: card.version,
      onnxSha256: sha256,
      card: card as unknown as Record<string, unknown>,
    });
    return { modelVersionId, reference, sha256, created: true };
  });
}

function unchanged(
  existing: ModelVersionRow,
  card: ModelCard,
  sha256: string,
  sources: { onnx: string; card: string },
): RegisteredModel {
  const reference = modelReference(card);
  if (existing.onnxSha256 !== sha256)
    throw new AppError(
      'CONFLICT',
      `${reference} is already registered with another file (sha256 ${existing.onnxSha256.slice(0, 12)}…, ${sources.onnx} is ${sha256.slice(0, 12)}…); a version never changes: give the new file a new version`,
    );
  if (!isDeepStrictEqual(existing.card, JSON.parse(JSON.stringify(card))))
    throw new AppError(
      'CONFLICT',
      `${reference} is already registered with a different card than ${sources.card}; a version never changes: give the new card a new version`,
    );
  return { modelVersionId: existing.id, reference, sha256, created: false };
}

/** A registered version with its parsed card, for inference. */
export interface ModelVersionWithCard extends ModelVersionRow {
  parsedCard: ModelCard;
}

/** Looks up NAME@VERSION; NOT_FOUND lists what is registered under that name. */
export async function getModelVersion(db: Db, name: string, version: string): Promise<ModelVersionWithCard> {
  const row = await findModelVersion(db, name, version);
  if (row === undefined) {
    const versions = (await listModelVersions(db)).filter((v) => v.name === name).map((v) => v.version);
    throw new AppError(
      'NOT_FOUND',
      versions.length === 0
        ? `no model named "${name}" is registered`
        : `${name}@${version} is not registered; versions of ${name}: ${versions.join(', ')}`,
    );
  }
  return { ...row, parsedCard: parseModelCard(row.card, `${name}@${version} (stored card)`) };
}

export { listModelVersions };
