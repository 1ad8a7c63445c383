import { permissionsOf } from '$lib/core/access/permissions';
import type { LayoutServerLoad } from './$types';

/** The signed-in user and what they may open, for the navigation. */
export const load: LayoutServerLoad = async ({ locals }) => {
  const principal = locals.principal;
  return {
    user: principal && {
      email: principal.email,
      displayName: principal.displayName,
      role: principal.role,
      sites: principal.sites,
      permissions: permissionsOf(principal.role),
    },
  };
};
