import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { can, permissions, permissionsOf, roleNames, siteScope } from '../../src/lib/core/access/permissions';
import { requiredAccess, routePolicy } from '../../src/lib/server/auth/route-policy';

const routesDir = path.resolve(import.meta.dirname, '../../src/routes');

/** SvelteKit route ids of every page and endpoint under src/routes. */
async function routeIds(folder = routesDir, id = ''): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && /^\+(page|server)(\.server)?\.(ts|svelte)$/.test(e.name)))
    found.push(id === '' ? '/' : id);
  for (const entry of entries)
    if (entry.isDirectory())
      found.push(...(await routeIds(path.join(folder, entry.name), `${id}/${entry.name}`)));
  return found;
}

describe('route policy', () => {
  it('has a rule for every route and no rule for a route that does not exist', async () => {
    expect((await routeIds()).sort()).toEqual(Object.keys(routePolicy).sort());
  });

  it('names only known permissions', () => {
    const known = new Set([...Object.keys(permissions), 'public', 'signed_in']);
    for (const [route, rule] of Object.entries(routePolicy))
      for (const access of [rule.GET, rule.POST, rule.PUT, rule.DELETE, ...Object.values(rule.actions ?? {})])
        if (access !== undefined) expect(known.has(access), `${route}: ${access}`).toBe(true);
  });

  it('reads form actions from the query and refuses unknown ones and unknown methods', () => {
    const url = (s: string) => new URL(`http://x${s}`);
    expect(requiredAccess('/drift', 'POST', url('/drift?/acknowledge'))).toBe('acknowledge_alarm');
    expect(requiredAccess('/drift', 'POST', url('/drift?/delete'))).toBeUndefined();
    expect(requiredAccess('/drift', 'POST', url('/drift'))).toBeUndefined();
    expect(requiredAccess('/login', 'POST', url('/login'))).toBe('public');
    expect(requiredAccess('/drift', 'HEAD', url('/drift'))).toBe('aggregates');
    expect(requiredAccess('/api/models', 'DELETE', url('/api/models'))).toBeUndefined();
    expect(requiredAccess('/nowhere', 'GET', url('/nowhere'))).toBeUndefined();
  });
});

describe('roles', () => {
  it('gives auditors aggregates across sites and never an image', () => {
    expect(can('auditor', 'aggregates')).toBe(true);
    expect(can('auditor', 'cross_site')).toBe(true);
    expect(can('auditor', 'images')).toBe(false);
    expect(can('auditor', 'cases')).toBe(false);
    expect(can('auditor', 'sign_report')).toBe(false);
  });

  it('keeps physicians to cases, images and reviews, and admins to everything', () => {
    expect(permissionsOf('physician')).toEqual([
      'dashboard',
      'aggregates',
      'cases',
      'images',
      'review',
      'account',
    ]);
    expect(permissionsOf('admin')).toEqual(Object.keys(permissions));
    expect(can('physicist', 'users')).toBe(false);
    expect(can('physicist', 'audit')).toBe(false);
  });

  it('lets only physicists and admins curate, freeze and export cohorts', () => {
    expect(roleNames.filter((role) => can(role, 'cohorts_write'))).toEqual(['admin', 'physicist']);
    // an export carries images: every role that may export may see images
    for (const role of roleNames) if (can(role, 'cohorts_write')) expect(can(role, 'images')).toBe(true);
  });

  it('scopes physicians to their sites, and physicists only when they have site grants', () => {
    expect(siteScope('physician', ['B', 'A'])).toEqual(['A', 'B']);
    expect(siteScope('physician', [])).toEqual([]);
    expect(siteScope('physicist', [])).toBeNull();
    expect(siteScope('physicist', ['A'])).toEqual(['A']);
    expect(siteScope('auditor', ['A'])).toBeNull();
    expect(siteScope('admin', ['A'])).toBeNull();
  });
});
