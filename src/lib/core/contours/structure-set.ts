import type { Vec3 } from '../volume/volume';

/** DICOM Contour Geometric Type (3006,0042). Only CLOSED_PLANAR contours bound a region. */
export type ContourGeometricType =
  'CLOSED_PLANAR' | 'OPEN_PLANAR' | 'OPEN_NONPLANAR' | 'POINT' | 'CLOSEDPLANAR_XOR';

/** One contour of an ROI: points in patient space (LPS, mm), as (x, y, z) triplets. */
export interface Contour {
  geometricType: ContourGeometricType;
  pointsLps: Float64Array;
  /** SOP Instance UIDs of the images the contour says it lies on (Contour Image Sequence). */
  referencedSopInstanceUids: string[];
}

/** RT ROI Interpreted Type (3006,00A4), free text in practice ('ORGAN', 'CTV', 'EXTERNAL', ...). */
export interface Roi {
  number: number;
  name: string;
  /** '#rrggbb' from ROI Display Color, or null when absent */
  colourRgb: string | null;
  interpretedType: string | null;
  /** ROI Observation Label, ROI Interpreter */
  observationLabel: string | null;
  interpreter: string | null;
  generationAlgorithm: string | null;
  contours: Contour[];
}

/** An RT Structure Set: the metadata a QA tool needs and every ROI with its contours. */
export interface StructureSet {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  label: string;
  name: string | null;
  description: string | null;
  /** Structure Set Date and Time as written ('YYYYMMDD', 'HHMMSS.frac'), null when absent */
  date: string | null;
  time: string | null;
  operatorsName: string | null;
  manufacturer: string | null;
  frameOfReferenceUid: string;
  /** SOP Instance UIDs of the images the structure set references (Contour Image Sequences of the frame). */
  referencedSopInstanceUids: string[];
  referencedSeriesInstanceUid: string | null;
  rois: Roi[];
}

export type { Vec3 };
