import type { Db } from '../db/connection';
import { countOverview, type OverviewCounts } from '../repositories/overview.repository';

export type { OverviewCounts };

/** Counts for the overview page. */
export function getOverview(db: Db): Promise<OverviewCounts> {
  return countOverview(db);
}
