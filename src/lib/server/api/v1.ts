import { z } from 'zod';
import { AppError, describeIssues } from '../../core/errors';
import { metricNames } from '../../core/metrics/metric-catalogue';
import type { Db } from '../db/connection';
import { errorResponse } from '../http';
import type { MetricRowFilter, ModelFilter } from '../services/analytics-values';
import { sharedRuntime } from '../runtime';
import {
  actorOf,
  audit,
  type AuditEvent,
  type Principal,
  requirePrincipal,
  scopeSites,
} from '../services/account.service';
import { analyticsVersion } from '../services/analytics-values';
import { cacheKey, ResponseCache } from './response-cache';

// The /api/v1 boundary: query parameters parsed once by zod (the same schemas document them in
// openapi.json), JSON that keeps +∞ as "Infinity", CSV where asked.

const day = z.iso.date();
const list = z.array(z.string().min(1).max(200)).optional();

/** Filters every analysis endpoint accepts; lists are repeated parameters or comma-separated. */
export const filterSchema = z.strictObject({
  model: list.describe('model NAME or NAME@VERSION (repeatable)'),
  structure: list.describe('TG-263 structure name (repeatable), e.g. Heart'),
  site: list.describe('site code (repeatable)'),
  observer: list.describe(
    'observer code (repeatable): rows where the observer drew the test or the reference',
  ),
  cohort: z.string().min(1).max(128).optional().describe('cohort name'),
  from: day.optional().describe('first day included, YYYY-MM-DD'),
  to: day.optional().describe('last day included, YYYY-MM-DD'),
  dateField: z
    .enum(['acquisition', 'evaluation'])
    .default('acquisition')
    .describe('the date filtered and charted: the CT acquisition date or when the metric was computed'),
});

export const metricSchema = z
  .enum(metricNames as [string, ...string[]])
  .describe('metric name (see the metric definitions in each response)');

export type FilterParams = z.infer<typeof filterSchema>;

function parseModel(text: string): ModelFilter {
  const at = text.lastIndexOf('@');
  if (at === 0 || at === text.length - 1)
    throw new AppError('INVALID_ARGUMENT', `model "${text}": expected NAME or NAME@VERSION`);
  return at < 0 ? { name: text } : { name: text.slice(0, at), version: text.slice(at + 1) };
}

/** The repository filter of parsed query parameters. */
export function toRowFilter(params: FilterParams): MetricRowFilter {
  return {
    models: params.model?.map(parseModel),
    structures: params.structure,
    sites: params.site,
    observers: params.observer,
    cohort: params.cohort,
    from: params.from,
    to: params.to,
    dateField: params.dateField,
  };
}

/**
 * Query parameters as an object for a zod schema: a parameter whose schema is an array collects every
 * occurrence, comma-separated values split; others take the single value. Unknown parameters are refused
 * by the (strict) schema, so a misspelt filter never silently widens a result.
 */
export function parseQuery<S extends z.ZodObject>(schema: S, url: URL, principal: Principal): z.infer<S> {
  const raw: Record<string, unknown> = {};
  for (const name of new Set(url.searchParams.keys())) {
    const field = schema.shape[name] as z.ZodType | undefined;
    const values = url.searchParams.getAll(name);
    const isList = field !== undefined && unwrap(field) instanceof z.ZodArray;
    raw[name] = isList
      ? values
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter((v) => v.length > 0)
      : values[values.length - 1];
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new AppError('INVALID_ARGUMENT', `query: ${describeIssues(parsed.error.issues, 'parameters')}`);
  // a user bound to sites sees only those, whatever the query asks
  if ('site' in schema.shape) {
    const data = parsed.data as { site?: string[] };
    data.site = scopeSites(principal, data.site);
  }
  return parsed.data;
}

function unwrap(type: z.ZodType): z.ZodType {
  let current: z.ZodType = type;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault)
    current = current.unwrap() as z.ZodType;
  return current;
}

/** JSON with +∞ as the string "Infinity" (DESIGN.md), which JSON.stringify would turn into null. */
export function apiJson(body: unknown, status = 200): Response {
  const text = JSON.stringify(body, (_key, value: unknown) =>
    value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : value,
  );
  return new Response(text, { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/** Answers of this server process, by data version (see ResponseCache). */
const responseCache = new ResponseCache();

/**
 * An /api/v1 handler: checks the bearer token, hands the handler the database, maps errors to
 * statuses with the message. With `cache`, a 200 answer is kept under the current data version and
 * served again for the same request until the data change; `Cache-Control: no-cache` recomputes it.
 * `X-Analytics-Version` and `X-Cache` (hit, miss, bypass) say which.
 */
export function v1Handler(
  handler: (context: {
    db: Db;
    url: URL;
    params: Record<string, string>;
    request: Request;
    principal: Principal;
    ip: string | null;
  }) => Promise<Response>,
  options: {
    cache?: boolean;
    /** An audit event for this request (exports), recorded whether or not the answer is cached. */
    audit?: (url: URL) => AuditEvent | null;
  } = {},
) {
  return async ({
    request,
    url,
    params,
    locals,
    getClientAddress,
  }: {
    request: Request;
    url: URL;
    params: Record<string, string>;
    locals: App.Locals;
    getClientAddress: () => string;
  }): Promise<Response> => {
    try {
      const runtime = await sharedRuntime();
      const db = runtime.database.db;
      // the hooks have checked the role; a handler reaching here without a principal is a wiring error
      const principal = requirePrincipal(locals.principal);
      let ip: string | null = null;
      try {
        ip = getClientAddress();
      } catch {
        // not served over a socket (tests calling the handler directly)
      }
      const context = { db, url, params, request, principal, ip };
      const event = options.audit?.(url);
      if (event) await audit(db, actorOf(principal, ip), event);
      if (!options.cache) return await handler(context);
      const version = await analyticsVersion(db);
      const key = `${principal.sites?.join(',') ?? '*'} ${cacheKey(version, url)}`;
      const bypass = /no-cache|no-store/i.test(request.headers.get('cache-control') ?? '');
      const stamp = (state: string): [string, string][] => [
        ['x-analytics-version', String(version)],
        ['x-cache', state],
      ];
      const hit = bypass ? undefined : responseCache.get(key);
      if (hit !== undefined) return new Response(hit.body, { headers: [...hit.headers, ...stamp('hit')] });
      const response = await handler(context);
      if (response.status !== 200) return response;
      const body = new Uint8Array(await response.arrayBuffer());
      const headers = [...response.headers.entries()];
      responseCache.set(key, body, headers);
      return new Response(body, { headers: [...headers, ...stamp(bypass ? 'bypass' : 'miss')] });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/**
 * Query parameters of a dashboard page: like parseQuery, but empty values (a filter left at "any") are
 * dropped first, and a problem is returned for the page to show instead of thrown.
 */
export function parsePageQuery<S extends z.ZodObject>(
  schema: S,
  url: URL,
  principal: Principal,
): { params: z.infer<S>; error: null } | { params: null; error: string } {
  const cleaned = new URL(url);
  for (const [name, value] of [...url.searchParams.entries()])
    if (value.trim() === '') cleaned.searchParams.delete(name, value);
  try {
    return { params: parseQuery(schema, cleaned, principal), error: null };
  } catch (error) {
    return { params: null, error: error instanceof Error ? error.message : String(error) };
  }
}
