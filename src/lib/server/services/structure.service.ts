import { AppError } from '../../core/errors';
import {
  aliasKey,
  findTg263Structure,
  normaliseStructureName,
  TG263_STRUCTURES,
} from '../../core/structures/tg263';
import type { Db } from '../db/connection';
import { ensureSite } from '../repositories/site.repository';
import {
  ensureStructures,
  listStructureAliases,
  upsertStructureAlias,
} from '../repositories/structure.repository';

/**
 * Maps a clinical ROI name to a TG-263 structure for one site (or every site when `siteCode` is null);
 * imports at that site then use it before any built-in rule. The TG-263 name must be in the catalogue.
 */
export async function addStructureAlias(
  db: Db,
  siteCode: string | null,
  name: string,
  tg263Name: string,
): Promise<string> {
  const structure = findTg263Structure(tg263Name);
  if (!structure) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `"${tg263Name}" is not a TG-263 name ContourBench knows; known: ${TG263_STRUCTURES.map((s) => s.tg263Name).join(', ')}`,
    );
  }
  const key = aliasKey(name);
  if (key === '') throw new AppError('INVALID_ARGUMENT', `"${name}" has no letters or digits to match`);
  return db.transaction().execute(async (trx) => {
    const siteId = siteCode === null ? null : (await ensureSite(trx, siteCode)).id;
    const ids = await ensureStructures(trx, [structure]);
    await upsertStructureAlias(trx, {
      siteId,
      alias: name,
      aliasNormalised: key,
      structureId: ids.get(structure.tg263Name)!,
    });
    return key;
  });
}

/** How a list of names would map at a site today (aliases first, then the built-in rules). */
export async function previewStructureNames(
  db: Db,
  siteCode: string,
  names: string[],
  laterality: 'left' | 'right' | null,
): Promise<Array<{ name: string; tg263Name: string | null; rule: string | null }>> {
  const site = await ensureSite(db, siteCode);
  const aliases = await listStructureAliases(db, site.id);
  return names.map((name) => {
    const match = normaliseStructureName(name, { aliases, laterality });
    return { name, tg263Name: match?.tg263Name ?? null, rule: match?.rule ?? null };
  });
}
