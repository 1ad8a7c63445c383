export type RoleName = 'admin' | 'physicist' | 'physician' | 'auditor';

/**
 * What each role may do. A permission names one kind of access; routes, API endpoints and CLI commands
 * each require one (src/lib/server/auth/route-policy.ts). Site scoping is separate: see `siteScope`.
 */
export const permissions = {
  dashboard: 'the overview page: runs, alarms and cohorts',
  aggregates: 'metric distributions, comparisons, agreement, drift and editing effort',
  cross_site: 'site-against-site comparisons (domain shift)',
  cases: 'the list of cases with their metrics',
  images: "a case's CT images and contours, and exported RTSTRUCTs",
  review: 'grading contours',
  reports: 'commissioning reports',
  sign_report: 'signing a commissioning report',
  acknowledge_alarm: 'acknowledging a drift alarm',
  criteria_write: 'defining acceptance criteria',
  models_read: 'the model registry and evaluation runs',
  models_write: 'registering models and starting, cancelling or retrying evaluation runs',
  cohorts_write: 'building, checking, freezing and exporting curated cohorts',
  import: 'importing DICOM studies, contours and editing sessions',
  users: 'user accounts, roles and site access',
  audit: 'the audit trail',
  account: 'one’s own password and API tokens',
} as const;

export type Permission = keyof typeof permissions;

export const roleNames: readonly RoleName[] = ['admin', 'physicist', 'physician', 'auditor'];

const grants: Record<RoleName, ReadonlySet<Permission>> = {
  admin: new Set(Object.keys(permissions) as Permission[]),
  physicist: new Set<Permission>([
    'dashboard',
    'aggregates',
    'cross_site',
    'cases',
    'images',
    'review',
    'reports',
    'sign_report',
    'acknowledge_alarm',
    'criteria_write',
    'models_read',
    'models_write',
    'cohorts_write',
    'import',
    'account',
  ]),
  // own site's cases, contours and reviews, and the aggregates of that site
  physician: new Set<Permission>(['dashboard', 'aggregates', 'cases', 'images', 'review', 'account']),
  // aggregates across sites, never an image
  auditor: new Set<Permission>([
    'dashboard',
    'aggregates',
    'cross_site',
    'reports',
    'models_read',
    'account',
  ]),
};

export function isRoleName(value: string): value is RoleName {
  return (roleNames as readonly string[]).includes(value);
}

export function can(role: RoleName, permission: Permission): boolean {
  return grants[role].has(permission);
}

/** The permissions of a role, in the order of `permissions`. */
export function permissionsOf(role: RoleName): Permission[] {
  return (Object.keys(permissions) as Permission[]).filter((p) => grants[role].has(p));
}

/**
 * The sites a user sees: every site (null) for admins and auditors; a physicist with site grants sees only
 * those, without any every site; a physician only the granted sites, and none without a grant.
 */
export function siteScope(role: RoleName, grantedSiteCodes: readonly string[]): string[] | null {
  if (role === 'admin' || role === 'auditor') return null;
  if (role === 'physicist' && grantedSiteCodes.length === 0) return null;
  return [...grantedSiteCodes].sort();
}
