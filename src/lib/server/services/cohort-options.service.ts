import type { ReferencePolicy, ReferenceRule } from '../../core/cohorts/reference-policy';
import type { Db } from '../db/connection';
import {
  findCohortSelectionOptions,
  findCohortSiteCodes,
  findSiteCodesOfCases,
  findVersionSiteCodes,
  type CohortSelectionOptions,
} from '../repositories/cohort-options.repository';
import { type Principal, requireSite } from './account.service';
import { listCohorts, type CohortListRow } from './cohort.service';

// What the cohort pages offer to choose from, and which cohorts a user bound to sites may see: cohorts
// may span sites, so such a user sees and changes only cohorts whose cases all lie in their sites.

export type { CohortSelectionOptions };

/** The values a new cohort's selection can take, among the cases of the principal's sites. */
export function cohortSelectionOptions(db: Db, principal: Principal): Promise<CohortSelectionOptions> {
  return findCohortSelectionOptions(db, principal.sites);
}

export interface VisibleCohort extends CohortListRow {
  /** site codes of the current cases */
  sites: string[];
}

/** Every cohort the principal sees, with the sites of its cases. */
export async function visibleCohorts(db: Db, principal: Principal): Promise<VisibleCohort[]> {
  const [rows, sites] = await Promise.all([listCohorts(db), findCohortSiteCodes(db)]);
  const allowed = principal.sites;
  return rows
    .map((row) => ({ ...row, sites: sites.get(row.name) ?? [] }))
    .filter((row) => allowed === null || row.sites.every((site) => allowed.includes(site)));
}

/** Throws FORBIDDEN unless the principal sees every one of these sites. */
export function requireSites(principal: Principal, siteCodes: Iterable<string>): void {
  for (const site of new Set(siteCodes)) requireSite(principal, site);
}

/** Throws FORBIDDEN unless the principal sees the site of every case named (unknown names pass). */
export async function requireCaseSites(
  db: Db,
  principal: Principal,
  pseudonyms: readonly string[],
): Promise<void> {
  if (principal.sites === null) return;
  requireSites(principal, (await findSiteCodesOfCases(db, pseudonyms)).values());
}

/** Throws FORBIDDEN unless the principal sees the site of every case of a frozen version. */
export async function requireVersionSites(
  db: Db,
  principal: Principal,
  cohort: string,
  version: number,
): Promise<void> {
  if (principal.sites === null) return;
  requireSites(principal, await findVersionSiteCodes(db, cohort, version));
}

function ruleText(rule: ReferenceRule): string {
  return rule.kind === 'observer' ? `observer:${rule.observer}` : rule.kind;
}

/** A stored reference policy as the entries it was given as ("*=staple", "Heart=observer:EXPERT"). */
export function policyEntries(policy: Record<string, unknown>): string[] {
  const parsed = policy as unknown as Partial<ReferencePolicy>;
  if (!parsed.default) return [JSON.stringify(policy)];
  return [
    `*=${ruleText(parsed.default)}`,
    ...Object.entries(parsed.structures ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([structure, rule]) => `${structure}=${ruleText(rule)}`),
  ];
}
