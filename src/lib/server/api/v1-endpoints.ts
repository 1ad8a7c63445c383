import { z } from 'zod';
import { AppError } from '../../core/errors';
import { parseReference, type MetricRowFilter } from '../services/analytics-values';
import type { DriftOptions } from '../services/drift.service';
import { filterSchema, metricSchema } from './v1';

// The query schema of every /api/v1 endpoint: routes parse with them, openapi.json documents them.

export const agreementSchema = filterSchema;

const referenceParam = z
  .string()
  .default('consensus')
  .describe(
    "consensus (STAPLE), physicians (mean over the case's physicians), observer:CODE or version:COHORT@N (the references a frozen cohort version chose)",
  );

export const compareSchema = filterSchema.extend({
  metric: z.array(metricSchema).default(['dice', 'hd95_mm', 'surface_dice_2mm']),
  reference: referenceParam,
  criteria: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('acceptance criteria set to evaluate both models against'),
  cases: z.enum(['true', 'false']).default('false').describe("also return each case's pair of values"),
});

export const siteShiftSchema = filterSchema.extend({
  metric: metricSchema.default('dice'),
  reference: referenceParam,
  subject: z
    .enum(['model', 'physician'])
    .default('model')
    .describe("whose contours: the models' (per version) or the physicians'"),
  referenceSite: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('image features: compare every site with this one'),
  windowFrom: z.iso
    .date()
    .optional()
    .describe('image features: reference window of acquisition dates, first day'),
  windowTo: z.iso.date().optional().describe('image features: reference window, last day'),
});

export const driftSchema = filterSchema.extend({
  metric: metricSchema.default('dice'),
  reference: referenceParam,
  subject: z
    .enum(['model', 'physician'])
    .default('model')
    .describe("whose contours: the models' or the physicians'"),
  bySite: z
    .enum(['true', 'false'])
    .default('true')
    .describe('one series per site (true) or the sites pooled'),
  baselinePoints: z.coerce
    .number()
    .int()
    .min(5)
    .max(1000)
    .default(20)
    .describe('the first N points set the limits'),
  baselineFrom: z.iso
    .date()
    .optional()
    .describe('baseline window of dates instead of the first N points, first day'),
  baselineTo: z.iso.date().optional().describe('baseline window, last day'),
  lambda: z.coerce.number().gt(0).lte(1).default(0.2).describe('EWMA weight'),
  L: z.coerce.number().gt(0).lte(6).default(3).describe('EWMA limit width in sigmas'),
  k: z.coerce.number().min(0).lte(3).default(0.5).describe('CUSUM reference value in sigmas'),
  h: z.coerce.number().gt(0).lte(20).default(5).describe('CUSUM decision interval in sigmas'),
  runLength: z.coerce.number().int().min(2).max(20).default(8).describe('WE4 run length (Nelson: 9)'),
});

export const alarmsSchema = z.strictObject({
  open: z.enum(['true', 'false']).default('true').describe('only alarms not acknowledged yet'),
  site: z.array(z.string().min(1).max(64)).optional().describe('site code (repeatable)'),
  structure: z.array(z.string().min(1).max(64)).optional().describe('TG-263 structure name (repeatable)'),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

export const acknowledgeSchema = z.strictObject({
  note: z.string().min(1).max(2000).describe('what was found and done'),
});

export const editingSchema = filterSchema.extend({
  aplTolerance: z.coerce
    .number()
    .refine((v) => [0, 1, 2, 3].includes(v), 'one of 0, 1, 2, 3')
    .default(2)
    .describe('APL tolerance in mm'),
  surfaceDiceTolerance: z.coerce
    .number()
    .refine((v) => [1, 2, 3].includes(v), 'one of 1, 2, 3')
    .default(2)
    .describe('surface Dice tolerance in mm'),
});

export const metricsSchema = filterSchema.extend({
  referenceSource: z
    .enum(['physician', 'consensus', 'model', 'corrected'])
    .optional()
    .describe('source of the reference contour set'),
  testSource: z
    .enum(['physician', 'consensus', 'model', 'corrected'])
    .optional()
    .describe('source of the test contour set'),
  run: z.coerce.number().int().positive().optional().describe('evaluation run id'),
  format: z.enum(['json', 'csv']).default('json'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe('rows per page (CSV: up to 100,000)'),
  offset: z.coerce.number().int().min(0).default(0),
});

/** The drift service's options from parsed drift parameters (the API and the drift page share them). */
export function driftOptions(params: z.infer<typeof driftSchema>, filter: MetricRowFilter): DriftOptions {
  return {
    metric: params.metric,
    filter,
    reference: parseReference(params.reference),
    subject: params.subject,
    bySite: params.bySite === 'true',
    settings: {
      baselinePoints: params.baselinePoints,
      baselineFrom: params.baselineFrom,
      baselineTo: params.baselineTo,
      lambda: params.lambda,
      L: params.L,
      k: params.k,
      h: params.h,
      runLength: params.runLength,
    },
  };
}

/** The site-shift services' options from parsed parameters; a window needs both ends, and excludes a site. */
export function siteShiftOptions(params: z.infer<typeof siteShiftSchema>, filter: MetricRowFilter) {
  if ((params.windowFrom === undefined) !== (params.windowTo === undefined))
    throw new AppError('INVALID_ARGUMENT', 'give both windowFrom and windowTo, or neither');
  if (params.windowFrom !== undefined && params.referenceSite !== undefined)
    throw new AppError('INVALID_ARGUMENT', 'compare against a reference site or a window, not both');
  return {
    metric: {
      metric: params.metric,
      filter,
      reference: parseReference(params.reference),
      subject: params.subject,
    },
    features: {
      filter,
      referenceSite: params.referenceSite,
      window: params.windowFrom === undefined ? undefined : { from: params.windowFrom, to: params.windowTo! },
    },
  };
}

export const cohortsSchema = z.strictObject({});

export const cohortSchema = z.strictObject({
  reference: z
    .array(z.string().min(1).max(200))
    .default(['*=staple'])
    .describe(
      'reference policy entries (repeatable): *=staple, *=majority or *=observer:CODE, then exceptions such as Heart=observer:EXPERT',
    ),
  expected: z
    .array(z.string().min(1).max(64))
    .optional()
    .describe(
      'TG-263 structures every case should have (the missing-structure check); default: those most cases of the same side have',
    ),
});
