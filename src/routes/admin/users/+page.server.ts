import { randomBytes } from 'node:crypto';
import { roleNames } from '$lib/core/access/permissions';
import { clientAddress, formAction } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import {
  actorOf,
  createUser,
  requirePrincipal,
  updateAccess,
  users,
} from '$lib/server/services/account.service';
import { analyticsOptions } from '$lib/server/services/analytics-values';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  const db = (await sharedRuntime()).database.db;
  const [rows, options] = await Promise.all([users(db), analyticsOptions(db, null)]);
  return {
    roles: roleNames,
    sites: options.sites,
    users: rows.map((u) => ({
      email: u.email,
      displayName: u.displayName,
      role: u.role,
      sites: u.siteCodes,
      active: u.isActive,
      lastLoginAt: u.lastLoginAt?.toISOString().slice(0, 16).replace('T', ' ') ?? null,
    })),
  };
};

const sitesOf = (form: FormData) =>
  form
    .getAll('site')
    .map(String)
    .filter((s) => s.length > 0);

export const actions: Actions = {
  create: async (event) => {
    const actor = actorOf(requirePrincipal(event.locals.principal), clientAddress(event));
    const form = await event.request.formData();
    const email = String(form.get('email') ?? '');
    // a first password the user changes after signing in
    const password = randomBytes(18).toString('base64url');
    return formAction({ email }, async () => {
      const created = await createUser(
        (await sharedRuntime()).database.db,
        {
          email,
          role: String(form.get('role') ?? ''),
          sites: sitesOf(form),
          displayName: String(form.get('name') ?? '') || undefined,
          password,
        },
        actor,
      );
      return { created: created.email, password };
    });
  },
  access: async (event) => {
    const actor = actorOf(requirePrincipal(event.locals.principal), clientAddress(event));
    const form = await event.request.formData();
    const email = String(form.get('email') ?? '');
    return formAction({ email }, async () => {
      const after = await updateAccess(
        (await sharedRuntime()).database.db,
        email,
        { role: String(form.get('role') ?? ''), sites: sitesOf(form), active: form.get('active') === 'on' },
        actor,
      );
      return { updated: after.email };
    });
  },
};
