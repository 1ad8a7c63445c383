import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface AuditEventInput {
  userId: number | null;
  action: string;
  objectType: string;
  objectId?: string | null;
  siteId?: number | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEventRow {
  id: number;
  occurredAt: Date;
  userEmail: string | null;
  action: string;
  objectType: string;
  objectId: string | null;
  siteCode: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export async function insertAuditEvent(db: Db, event: AuditEventInput): Promise<void> {
  await db
    .insertInto('audit_event')
    .values({
      user_id: event.userId,
      action: event.action,
      object_type: event.objectType,
      object_id: event.objectId ?? null,
      site_id: event.siteId ?? null,
      ip_address: event.ip ?? null,
      details: event.details ?? {},
    })
    .execute();
}

export interface AuditFilter {
  action?: string;
  userEmail?: string;
  objectType?: string;
  objectId?: string;
  before?: number;
  limit: number;
}

/** The newest events first, optionally before an event id (for paging). */
export async function findAuditEvents(db: Db, filter: AuditFilter): Promise<AuditEventRow[]> {
  let query = db
    .selectFrom('audit_event')
    .leftJoin('app_user', 'app_user.id', 'audit_event.user_id')
    .leftJoin('site', 'site.id', 'audit_event.site_id')
    .select([
      'audit_event.id',
      'audit_event.occurred_at as occurredAt',
      'app_user.email as userEmail',
      'audit_event.action',
      'audit_event.object_type as objectType',
      'audit_event.object_id as objectId',
      'site.code as siteCode',
      sql<string | null>`host(audit_event.ip_address)`.as('ip'),
      'audit_event.details',
    ])
    .orderBy('audit_event.id', 'desc')
    .limit(filter.limit);
  if (filter.action)
    query = query.where('audit_event.action', 'like', `${filter.action.replace(/[%_\\]/g, '\\$&')}%`);
  if (filter.userEmail) query = query.where(sql<boolean>`lower(app_user.email) = lower(${filter.userEmail})`);
  if (filter.objectType) query = query.where('audit_event.object_type', '=', filter.objectType);
  if (filter.objectId) query = query.where('audit_event.object_id', '=', filter.objectId);
  if (filter.before) query = query.where('audit_event.id', '<', filter.before);
  return query.execute();
}

export async function findAuditActions(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('audit_event').select('action').distinct().orderBy('action').execute();
  return rows.map((r) => r.action);
}
