import type { Db } from '../db/connection';
import { ensureSite, setKeepUidMap, type Site } from '../repositories/site.repository';

/** Creates the site if new and applies the settings given. */
export async function configureSite(
  db: Db,
  code: string,
  settings: { name?: string; keepUidMap?: boolean },
): Promise<Site> {
  const site = await ensureSite(db, code, settings.name ?? code);
  if (settings.keepUidMap !== undefined && settings.keepUidMap !== site.keepUidMap) {
    await setKeepUidMap(db, site.id, settings.keepUidMap);
    return { ...site, keepUidMap: settings.keepUidMap };
  }
  return site;
}
