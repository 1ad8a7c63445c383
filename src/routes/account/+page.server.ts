import { fail } from '@sveltejs/kit';
import { z } from 'zod';
import { clientAddress, formAction } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import {
  actorOf,
  apiTokens,
  changePassword,
  createApiToken,
  requirePrincipal,
  revokeToken,
} from '$lib/server/services/account.service';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const principal = requirePrincipal(locals.principal);
  const tokens = await apiTokens((await sharedRuntime()).database.db, principal.email);
  return {
    tokens: tokens.map((t) => ({
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      createdAt: t.createdAt.toISOString().slice(0, 16).replace('T', ' '),
      lastUsedAt: t.lastUsedAt?.toISOString().slice(0, 16).replace('T', ' ') ?? null,
      expiresAt: t.expiresAt?.toISOString().slice(0, 10) ?? null,
      state: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt < new Date() ? 'expired' : 'active',
    })),
  };
};

export const actions: Actions = {
  password: async (event) => {
    const principal = requirePrincipal(event.locals.principal);
    const form = await event.request.formData();
    const next = String(form.get('next') ?? '');
    if (next !== String(form.get('confirm') ?? ''))
      return fail(400, { action: 'password', error: 'the new password and its repetition differ' });
    return formAction({ action: 'password' }, async () => {
      await changePassword(
        (await sharedRuntime()).database.db,
        principal,
        {
          current: String(form.get('current') ?? ''),
          next,
          sessionToken: event.locals.sessionToken ?? undefined,
        },
        clientAddress(event),
      );
      return { done: 'Password changed; your other sessions were signed out.' };
    });
  },
  createToken: async (event) => {
    const principal = requirePrincipal(event.locals.principal);
    const form = await event.request.formData();
    const days = z.coerce
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .safeParse(form.get('days') || undefined);
    if (!days.success)
      return fail(400, { action: 'token', error: 'expiry: a whole number of days, 1 to 3650' });
    return formAction({ action: 'token' }, async () => {
      const created = await createApiToken(
        (await sharedRuntime()).database.db,
        { email: principal.email, name: String(form.get('name') ?? ''), expiresInDays: days.data },
        actorOf(principal, clientAddress(event)),
      );
      return { token: created.token };
    });
  },
  revokeToken: async (event) => {
    const principal = requirePrincipal(event.locals.principal);
    const form = await event.request.formData();
    const id = Number(form.get('id'));
    return formAction({ action: 'token' }, async () => {
      await revokeToken(
        (await sharedRuntime()).database.db,
        id,
        actorOf(principal, clientAddress(event)),
        principal.userId,
      );
      return { done: `Token ${id} revoked.` };
    });
  },
};
