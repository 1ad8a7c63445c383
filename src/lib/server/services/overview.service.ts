import type { Db } from '../db/connection';
import {
  countOverview,
  findCatalogue,
  findRecentRuns,
  type OverviewCounts,
} from '../repositories/overview.repository';

export type { OverviewCounts };

/** What the database holds: counts of sites, cases, contour sets, observers, sessions, cohorts. */
export function getOverview(db: Db): Promise<OverviewCounts> {
  return countOverview(db);
}

/** The overview page's lists: cohorts, sites, models, the latest runs with their progress, open alarms. */
export async function getDashboardOverview(db: Db, sites: readonly string[] | null) {
  const [catalogue, runs] = await Promise.all([findCatalogue(db), findRecentRuns(db, 12)]);
  return {
    ...catalogue,
    // a user bound to sites sees only those in the list
    sites: sites === null ? catalogue.sites : catalogue.sites.filter((s) => sites.includes(s.code)),
    runs: runs.map((r) => ({
      ...r,
      createdAt: r.createdAt.toISOString(),
      startedAt: r.startedAt?.toISOString() ?? null,
      finishedAt: r.finishedAt?.toISOString() ?? null,
    })),
  };
}
