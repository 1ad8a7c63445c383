import { z } from 'zod';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import {
  acknowledgeSchema,
  agreementSchema,
  alarmsSchema,
  cohortSchema,
  cohortsSchema,
  compareSchema,
  driftSchema,
  editingSchema,
  metricsSchema,
  siteShiftSchema,
} from './v1-endpoints';
import { criteriaSetSchema } from '../services/model-comparison.service';

interface Operation {
  method: 'get' | 'post' | 'put';
  path: string;
  summary: string;
  description: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** integers (ids) unless `type` says string */
  pathParameters?: Array<{ name: string; description: string; type?: 'integer' | 'string' }>;
  /** the top-level fields of the JSON answer */
  response: Record<string, string>;
  csv?: boolean;
}

const analysisNote =
  'Every answer names the metric definition (definition text, unit, direction, definition version) and the statistical test it used.';

/** The /api/v1 operations; routes under src/routes/api/v1 and this list are checked against each other by a test. */
export const operations: Operation[] = [
  {
    method: 'get',
    path: '/api/v1/metrics',
    summary: 'Stored metric rows',
    description: `Every stored metric row under the filters, a page at a time (ordered by row id), as JSON with the definition of every metric column, or as CSV with format=csv. ${analysisNote}`,
    query: metricsSchema,
    response: {
      definitionVersion: 'the metric definition version of the rows',
      definitions: 'each metric column: label, unit, direction, definition, missed-structure policy',
      total: 'rows under the filters',
      rows: 'the page of rows: case, site, structure, reference and test sets (source, observer, model), every metric',
    },
    csv: true,
  },
  {
    method: 'get',
    path: '/api/v1/compare/models',
    summary: 'Paired comparison of two model versions',
    description: `Two model versions (model=NAME@VERSION twice) on the same cases and reference: per metric and structure the summaries of A, B and B - A, Wilcoxon signed-rank with Holm adjustment across structures, Hodges-Lehmann shift with 95% CI; with criteria=SET, each version against the acceptance criteria (pass/fail counts). ${analysisNote}`,
    query: compareSchema,
    response: {
      models: 'A and B',
      reference: 'what the models were measured against',
      test: 'the test, its exact or approximate form, the adjustment',
      comparisons: 'per metric: definition, and per structure pairs, summaries, test (p, pHolm), shift',
      acceptance: 'per model: per structure and criterion cases, passed, failed, pass rate, verdict',
    },
  },
  {
    method: 'get',
    path: '/api/v1/sites/shift',
    summary: 'Per-site metric and image-feature shift',
    description: `Metric shift: per structure and subject (model version or the physicians), each site against the pooled others (Mann-Whitney U, Holm across sites, Cliff's delta) and Kruskal-Wallis across sites. Image-feature shift: scanner fields, slice thickness, HU statistics per site against a reference site, a window of acquisition dates, or the pooled others. ${analysisNote}`,
    query: siteShiftSchema,
    response: {
      metricShift:
        'metric definition, reference, test, series per structure and subject with sites and Kruskal-Wallis',
      featureShift:
        "reference, test, per site numeric features (summaries, Mann-Whitney, Cliff's delta) and categorical features (counts, novel share, chi-square)",
    },
  },
  {
    method: 'get',
    path: '/api/v1/drift',
    summary: 'Control charts and drift signals',
    description: `One point per case in date order per subject, structure and site: individuals and moving-range chart with limits from a baseline (the first N points or a date window), EWMA, tabular CUSUM, Western Electric rules 1 to 4; signals with the rule that raised them. ${analysisNote}`,
    query: driftSchema,
    response: {
      metric: 'the metric definition',
      method: 'how the charts and rules are computed',
      settings: 'baseline, EWMA, CUSUM and run-rule parameters used',
      series: 'per subject, structure and site: points (value, moving range, EWMA, CUSUM), limits, signals',
    },
  },
  {
    method: 'get',
    path: '/api/v1/alarms',
    summary: 'Stored drift alarms',
    description:
      'Alarms raised by the control charts (refreshed by a job after each evaluation run), newest first; open ones by default.',
    query: alarmsSchema,
    response: {
      alarms:
        'id, series, rule and its description, metric, model, site, structure, point, value, acknowledgement',
    },
  },
  {
    method: 'post',
    path: '/api/v1/alarms/{id}/acknowledge',
    summary: 'Acknowledge an alarm',
    description:
      'Records a note (and the acknowledging user) on an open alarm; 409 when it was acknowledged already.',
    pathParameters: [{ name: 'id', description: 'alarm id' }],
    body: acknowledgeSchema,
    response: { id: 'the alarm', acknowledged: 'true' },
  },
  {
    method: 'get',
    path: '/api/v1/observers/agreement',
    summary: 'Inter-observer agreement and the human envelope',
    description: `Per structure: the pairwise matrix between observers (quartiles of Dice, HD95, surface Dice at 2 mm), each observer against the STAPLE consensus with STAPLE's sensitivity and specificity, and for each model whether its distance to the consensus lies within the observers' spread (test named in the answer). ${analysisNote}`,
    query: agreementSchema,
    response: {
      metrics: 'the metric definitions',
      tests: 'how each part is computed',
      structures: 'per structure: observers, pairwise, againstConsensus, envelope',
    },
  },
  {
    method: 'get',
    path: '/api/v1/editing',
    summary: 'Editing effort',
    description: `Per structure: editing time against APL (least squares with 95% CIs, Spearman) and against surface Dice (Spearman) over corrections of model contours, and time saved against manual contouring per structure, site and observer (medians, Hodges-Lehmann shift with CI, Mann-Whitney U). ${analysisNote}`,
    query: editingSchema,
    response: {
      metrics: 'what APL, surface Dice and time are',
      tests: 'the regression, correlation and comparison used',
      structures: 'per structure: regression, points, Spearman, timeSaved, bySite, byObserver',
    },
  },
  {
    method: 'get',
    path: '/api/v1/acceptance-criteria',
    summary: 'Acceptance criteria sets',
    description: 'Every named set of acceptance criteria with its criteria.',
    response: {
      sets: 'name and criteria (structure or every structure, metric, comparator, threshold, minPassRate, note)',
    },
  },
  {
    method: 'put',
    path: '/api/v1/acceptance-criteria',
    summary: 'Replace an acceptance criteria set',
    description:
      'Stores a named set, replacing one of the same name: per structure (or null for every structure without its own) a threshold on one metric that at least minPassRate of the cases must meet.',
    body: criteriaSetSchema,
    response: { name: 'the set', criteria: 'the stored criteria' },
  },
  {
    method: 'get',
    path: '/api/v1/cohorts',
    summary: 'Curated cohorts',
    description:
      'Every cohort the caller sees (a user bound to sites: those whose cases all lie in their sites), by name.',
    query: cohortsSchema,
    response: {
      cohorts:
        'name, description, createdAt, sites of its cases, cases, versions, latestVersion, runs (counts)',
    },
  },
  {
    method: 'get',
    path: '/api/v1/cohorts/{name}',
    summary: 'One cohort: cases, versions, strata, references and findings',
    description:
      'The cases with the reason each was added, the frozen versions (content sha256, reference policy, who froze it), the evaluation runs over the cohort with the version each evaluated, the counts per site x laterality x surgery x protocol, per structure the cases contoured and those with a reference under the policy, and the quality findings (missing structures, wrong side, volume outliers, duplicates) with their decisions.',
    pathParameters: [{ name: 'name', description: 'cohort name (URL-encoded)', type: 'string' }],
    query: cohortSchema,
    response: {
      cohort: 'the name',
      cases: 'pseudonym, site, laterality, surgery, protocol, acquisitionDate, reason, addedAt',
      versions: 'version, contentSha256, reference (policy entries), caseCount, note, frozenAt, frozenBy',
      runs: 'runId, model, cohortVersion (null: the current cases), status, createdAt, job counts',
      stratification: 'reference (the policy used), strata, structures (contoured, withReference)',
      findings: 'check, pseudonym, structure, message, decision (accepted or excluded, note) or null',
    },
  },
];

function jsonSchema(type: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(type, { io: 'input', unrepresentable: 'any' });
  return schema;
}

function queryParameters(schema: z.ZodObject) {
  return Object.entries(schema.shape).map(([name, field]) => {
    const type = field as z.ZodType;
    const { description, ...rest } = jsonSchema(type);
    return {
      name,
      in: 'query',
      required: !type.isOptional(),
      description,
      schema: rest,
      ...(rest.type === 'array' ? { style: 'form', explode: true } : {}),
    };
  });
}

const errorResponse = {
  description: 'the error and what was expected',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
};

/** The OpenAPI 3.1 document of /api/v1. */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      description: op.description,
      operationId: `${op.method}${op.path.replace('/api/v1', '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: [
        ...(op.pathParameters ?? []).map((p) => ({
          name: p.name,
          in: 'path',
          required: true,
          description: p.description,
          schema: p.type === 'string' ? { type: 'string', minLength: 1 } : { type: 'integer', minimum: 1 },
        })),
        ...(op.query ? queryParameters(op.query) : []),
      ],
      ...(op.body
        ? {
            requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } },
          }
        : {}),
      responses: {
        200: {
          description: Object.entries(op.response)
            .map(([k, v]) => `${k}: ${v}`)
            .join('; '),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: Object.fromEntries(
                  Object.entries(op.response).map(([k, v]) => [k, { description: v }]),
                ),
              },
            },
            ...(op.csv ? { 'text/csv': { schema: { type: 'string' } } } : {}),
          },
        },
        400: errorResponse,
        401: errorResponse,
        404: errorResponse,
        ...(op.method === 'post' || op.method === 'put' ? { 409: errorResponse, 422: errorResponse } : {}),
      },
      security: [{ bearer: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ContourBench analytics API',
      version,
      description: `Metrics, model comparison, site shift, drift, inter-observer agreement and editing effort over the stored evaluations. Metric definitions version ${metricDefinitionVersion}; +∞ (a missed structure's distance) is the string "Infinity", undefined values are null. Send Authorization: Bearer <token>.`,
    },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
