import { z } from 'zod';
import { filterSchema, metricSchema } from './v1';

// The query schema of every /api/v1 endpoint: routes parse with them, openapi.json documents them.

export const agreementSchema = filterSchema;

const referenceParam = z
  .string()
  .default('consensus')
  .describe("consensus (STAPLE), physicians (mean over the case's physicians) or observer:CODE");

export const compareSchema = filterSchema.extend({
  metric: z.array(metricSchema).default(['dice', 'hd95_mm', 'surface_dice_2mm']),
  reference: referenceParam,
  criteria: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('acceptance criteria set to evaluate both models against'),
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
