import type { Kysely, Transaction } from 'kysely';
import type { Database, StructureCategory, StructureLaterality } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface StructureDefinition {
  tg263Name: string;
  category: StructureCategory;
  laterality: StructureLaterality;
  description: string;
  colourRgb: string;
}

/** Ids of the structures with these TG-263 names, creating the missing ones from their definitions. */
export async function ensureStructures(
  db: Db,
  definitions: readonly StructureDefinition[],
): Promise<Map<string, number>> {
  if (definitions.length === 0) return new Map();
  await db
    .insertInto('structure')
    .values(
      definitions.map((d) => ({
        tg263_name: d.tg263Name,
        category: d.category,
        laterality: d.laterality,
        description: d.description,
        colour_rgb: d.colourRgb,
      })),
    )
    .onConflict((oc) => oc.column('tg263_name').doNothing())
    .execute();
  const rows = await db
    .selectFrom('structure')
    .select(['id', 'tg263_name'])
    .where(
      'tg263_name',
      'in',
      definitions.map((d) => d.tg263Name),
    )
    .execute();
  return new Map(rows.map((row) => [row.tg263_name, row.id]));
}

/** The site's aliases and the ones every site shares (site null), keyed by normalised alias: TG-263 name. */
export async function listStructureAliases(db: Db, siteId: number): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('structure_alias')
    .innerJoin('structure', 'structure.id', 'structure_alias.structure_id')
    .select(['structure_alias.alias_normalised', 'structure.tg263_name', 'structure_alias.site_id'])
    .where((eb) =>
      eb.or([eb('structure_alias.site_id', '=', siteId), eb('structure_alias.site_id', 'is', null)]),
    )
    .orderBy('structure_alias.site_id', 'asc')
    .execute();
  // site-specific rows sort after the shared (null last in ascending order): they win
  const aliases = new Map<string, string>();
  for (const row of rows) aliases.set(row.alias_normalised, row.tg263_name);
  return aliases;
}

export async function upsertStructureAlias(
  db: Db,
  alias: { siteId: number | null; alias: string; aliasNormalised: string; structureId: number },
): Promise<void> {
  await db
    .insertInto('structure_alias')
    .values({
      site_id: alias.siteId,
      alias: alias.alias,
      alias_normalised: alias.aliasNormalised,
      structure_id: alias.structureId,
    })
    .onConflict((oc) =>
      oc
        .constraint('structure_alias_key')
        .doUpdateSet({ structure_id: alias.structureId, alias: alias.alias }),
    )
    .execute();
}
