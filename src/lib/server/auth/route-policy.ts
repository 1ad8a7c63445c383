import type { Permission } from '../../core/access/permissions';

/**
 * Who may use each route, by SvelteKit route id: a permission per HTTP method, and per form action for
 * pages. 'public' needs no sign-in; 'signed_in' any signed-in user. A route missing here is refused to
 * everyone (test/unit/route-policy.test.ts checks every route file has an entry). Site scoping is applied
 * further in, where the data are read.
 */
export type Access = Permission | 'public' | 'signed_in';

export interface RouteRule {
  GET?: Access;
  POST?: Access;
  PUT?: Access;
  DELETE?: Access;
  /** Form actions of a page (POST ?/name; "default" for the unnamed one). */
  actions?: Record<string, Access>;
}

const view = (access: Access, actions?: Record<string, Access>): RouteRule => ({ GET: access, actions });

export const routePolicy: Record<string, RouteRule> = {
  '/': view('dashboard'),
  '/login': view('public', { default: 'public' }),
  '/login/oidc': { GET: 'public' },
  '/login/oidc/callback': { GET: 'public' },
  '/logout': { POST: 'signed_in' },
  '/account': view('account', { password: 'account', createToken: 'account', revokeToken: 'account' }),
  '/admin/users': view('users', { create: 'users', access: 'users' }),
  '/admin/audit': view('audit'),
  '/commissioning': view('aggregates'),
  '/observers': view('aggregates'),
  '/sites': view('cross_site'),
  '/drift': view('aggregates', { acknowledge: 'acknowledge_alarm' }),
  '/editing': view('aggregates'),
  '/dose': view('aggregates'),
  '/cases': view('cases'),
  '/cases/[id]': view('images', { review: 'review' }),
  '/cases/[id]/slice': view('images'),
  '/cases/[id]/contours': view('images'),
  '/cases/[id]/disagreement': view('images'),
  '/cases/[id]/dvh': view('images'),
  '/reports': view('reports'),
  '/reports/[runId]': view('reports', { signoff: 'sign_report' }),
  '/reports/[runId]/pdf': view('reports'),
  // reading a cohort (pseudonyms, strata, findings, versions) is part of reading what a run measured
  '/cohorts': view('models_read', { create: 'cohorts_write' }),
  '/cohorts/[name]': view('models_read', {
    addCases: 'cohorts_write',
    removeCase: 'cohorts_write',
    decide: 'cohorts_write',
    freeze: 'cohorts_write',
    evaluate: 'models_write',
  }),
  '/api/health': { GET: 'public' },
  '/api/import': { POST: 'import' },
  '/api/models': { GET: 'models_read', POST: 'models_write' },
  '/api/evaluations': { POST: 'models_write' },
  '/api/evaluations/[id]': { GET: 'models_read' },
  '/api/evaluations/[id]/events': { GET: 'models_read' },
  '/api/evaluations/[id]/cancel': { POST: 'models_write' },
  '/api/evaluations/[id]/retry': { POST: 'models_write' },
  '/api/contour-sets/[id]/rtstruct': { GET: 'images' },
  // images leave the system: the route also requires 'images' (every role with cohorts_write has it)
  '/api/cohorts/[name]/versions/[version]/dataset': { GET: 'cohorts_write' },
  '/api/v1/openapi.json': { GET: 'public' },
  '/api/v1/metrics': { GET: 'aggregates' },
  '/api/v1/compare/models': { GET: 'aggregates' },
  '/api/v1/sites/shift': { GET: 'cross_site' },
  '/api/v1/drift': { GET: 'aggregates' },
  '/api/v1/observers/agreement': { GET: 'aggregates' },
  '/api/v1/editing': { GET: 'aggregates' },
  '/api/v1/alarms': { GET: 'aggregates' },
  '/api/v1/alarms/[id]/acknowledge': { POST: 'acknowledge_alarm' },
  '/api/v1/acceptance-criteria': { GET: 'aggregates', PUT: 'criteria_write' },
  '/api/v1/cohorts': { GET: 'models_read' },
  '/api/v1/cohorts/[name]': { GET: 'models_read' },
};

/** What a request needs, or undefined when the route has no rule for it (refused). */
export function requiredAccess(routeId: string, method: string, url: URL): Access | undefined {
  const rule = routePolicy[routeId];
  if (!rule) return undefined;
  const verb = method === 'HEAD' ? 'GET' : method;
  if (verb === 'POST' && rule.actions) {
    const name = [...url.searchParams.keys()].find((key) => key.startsWith('/'))?.slice(1) || 'default';
    return rule.actions[name];
  }
  return rule[verb as 'GET' | 'POST' | 'PUT' | 'DELETE'];
}
