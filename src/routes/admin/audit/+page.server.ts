import { z } from 'zod';
import { sharedRuntime } from '$lib/server/runtime';
import { auditActions, auditTrail } from '$lib/server/services/audit.service';
import type { PageServerLoad } from './$types';

const PAGE = 100;
const query = z.object({
  action: z.string().max(100).optional(),
  user: z.string().max(320).optional(),
  before: z.coerce.number().int().positive().optional(),
});

export const load: PageServerLoad = async ({ url }) => {
  const db = (await sharedRuntime()).database.db;
  const parsed = query.safeParse(
    Object.fromEntries([...url.searchParams].filter(([, v]) => v.trim() !== '')),
  );
  const filter = parsed.success ? parsed.data : {};
  const [events, actions] = await Promise.all([
    auditTrail(db, { action: filter.action, userEmail: filter.user, before: filter.before, limit: PAGE }),
    auditActions(db),
  ]);
  return {
    filter,
    actions,
    error: parsed.success ? null : 'the filter is not valid',
    events: events.map((e) => ({
      ...e,
      occurredAt: e.occurredAt.toISOString().replace('T', ' ').slice(0, 19),
      details: Object.keys(e.details).length ? JSON.stringify(e.details) : '',
    })),
    older: events.length === PAGE ? events[events.length - 1].id : null,
  };
};
