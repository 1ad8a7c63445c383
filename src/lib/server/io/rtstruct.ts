import { AppError } from '../../core/errors';
import type { Contour, ContourGeometricType, Roi, StructureSet } from '../../core/contours/structure-set';
import {
  formatTag,
  getNumber,
  getNumbers,
  getSequence,
  getString,
  requireString,
  tags,
  type DicomDataset,
  type DicomFile,
} from './dicom/parser';

const geometricTypes = new Set<ContourGeometricType>([
  'CLOSED_PLANAR',
  'OPEN_PLANAR',
  'OPEN_NONPLANAR',
  'POINT',
  'CLOSEDPLANAR_XOR',
]);

function fail(message: string): never {
  throw new AppError('INVALID_INPUT', message);
}

function colour(dataset: DicomDataset): string | null {
  const rgb = getNumbers(dataset, tags.roiDisplayColor);
  if (!rgb || rgb.length !== 3 || rgb.some((c) => !(c >= 0 && c <= 255))) return null;
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Reads an RT Structure Set: its label, date and operator, the frame of reference and images it refers
 * to, and every ROI with name, number, colour, interpreted type and contours (points in LPS mm). Throws
 * INVALID_INPUT naming the file for a file that is not an RTSTRUCT, lacks the Structure Set ROI Sequence,
 * or has contours whose point counts and data disagree.
 */
export function readStructureSet(file: DicomFile): StructureSet {
  const ds = file.dataset;
  const source = ds.source;
  const modality = getString(ds, tags.modality);
  if (modality !== 'RTSTRUCT') fail(`${source}: modality is ${modality ?? 'missing'}, expected RTSTRUCT`);
  const roiItems = getSequence(ds, tags.structureSetRoiSequence);
  if (!ds.elements.has(tags.structureSetRoiSequence)) {
    fail(`${source}: no Structure Set ROI Sequence ${formatTag(tags.structureSetRoiSequence)}`);
  }

  const frames = getSequence(ds, tags.referencedFrameOfReferenceSequence);
  const referencedSopInstanceUids: string[] = [];
  let referencedSeriesInstanceUid: string | null = null;
  for (const frame of frames) {
    for (const study of getSequence(frame, tags.rtReferencedStudySequence)) {
      for (const series of getSequence(study, tags.rtReferencedSeriesSequence)) {
        referencedSeriesInstanceUid ??= getString(series, tags.seriesInstanceUid) || null;
        for (const image of getSequence(series, tags.contourImageSequence)) {
          const uid = getString(image, tags.referencedSopInstanceUid);
          if (uid) referencedSopInstanceUids.push(uid);
        }
      }
    }
  }

  const rois = new Map<number, Roi>();
  const roiFrames = new Set<string>();
  for (const item of roiItems) {
    const number = getNumber(item, tags.roiNumber);
    if (number === undefined) fail(`${source}: an item of the Structure Set ROI Sequence has no ROI Number`);
    if (!Number.isInteger(number) || number < -(2 ** 31) || number >= 2 ** 31) {
      fail(`${source}: ROI Number ${formatTag(tags.roiNumber)} ${number} is not an integer (IS)`);
    }
    if (rois.has(number)) fail(`${source}: ROI number ${number} appears twice`);
    const frame = getString(item, tags.referencedFrameOfReferenceUid);
    if (frame) roiFrames.add(frame);
    rois.set(number, {
      number,
      name: getString(item, tags.roiName) ?? `ROI ${number}`,
      colourRgb: null,
      interpretedType: null,
      observationLabel: null,
      interpreter: null,
      generationAlgorithm: getString(item, tags.roiGenerationAlgorithm) || null,
      contours: [],
    });
  }
  const frameOfReferenceUid =
    getString(frames[0] ?? ds, tags.frameOfReferenceUid) ||
    [...roiFrames][0] ||
    getString(ds, tags.frameOfReferenceUid);
  if (!frameOfReferenceUid)
    fail(`${source}: no Frame of Reference UID in the Referenced Frame of Reference Sequence`);

  for (const item of getSequence(ds, tags.roiContourSequence)) {
    const number = getNumber(item, tags.referencedRoiNumber);
    const roi = number === undefined ? undefined : rois.get(number);
    if (!roi)
      fail(
        `${source}: ROI Contour Sequence refers to ROI ${number ?? '(none)'}, which is not in the Structure Set ROI Sequence`,
      );
    roi.colourRgb = colour(item);
    getSequence(item, tags.contourSequence).forEach((contourItem, index) => {
      const type = getString(contourItem, tags.contourGeometricType) as ContourGeometricType | undefined;
      if (!type || !geometricTypes.has(type)) {
        fail(`${source}: ROI "${roi.name}" contour ${index + 1} has geometric type ${type ?? 'missing'}`);
      }
      const data = getNumbers(contourItem, tags.contourData) ?? [];
      const declared = getNumber(contourItem, tags.numberOfContourPoints);
      if (data.length % 3 !== 0) {
        fail(
          `${source}: ROI "${roi.name}" contour ${index + 1} has ${data.length} coordinates, not a multiple of 3`,
        );
      }
      if (declared !== undefined && declared * 3 !== data.length) {
        fail(
          `${source}: ROI "${roi.name}" contour ${index + 1} declares ${declared} points but holds ${data.length / 3}`,
        );
      }
      const contour: Contour = {
        geometricType: type,
        pointsLps: Float64Array.from(data),
        referencedSopInstanceUids: getSequence(contourItem, tags.contourImageSequence)
          .map((image) => getString(image, tags.referencedSopInstanceUid) ?? '')
          .filter((uid) => uid !== ''),
      };
      roi.contours.push(contour);
    });
  }

  for (const item of getSequence(ds, tags.rtRoiObservationsSequence)) {
    const roi = rois.get(getNumber(item, tags.referencedRoiNumber) ?? Number.NaN);
    if (!roi) continue;
    roi.interpretedType = getString(item, tags.rtRoiInterpretedType) || null;
    roi.observationLabel = getString(item, tags.roiObservationLabel) || null;
    roi.interpreter = getString(item, tags.roiInterpreter) || null;
  }

  return {
    sopInstanceUid: requireString(ds, tags.sopInstanceUid, 'SOP Instance UID'),
    seriesInstanceUid: requireString(ds, tags.seriesInstanceUid, 'Series Instance UID'),
    studyInstanceUid: requireString(ds, tags.studyInstanceUid, 'Study Instance UID'),
    label: getString(ds, tags.structureSetLabel) ?? '',
    name: getString(ds, tags.structureSetName) || null,
    description: getString(ds, tags.structureSetDescription) || null,
    date: getString(ds, tags.structureSetDate) || null,
    time: getString(ds, tags.structureSetTime) || null,
    operatorsName: getString(ds, tags.operatorsName) || null,
    manufacturer: getString(ds, tags.manufacturer) || null,
    frameOfReferenceUid,
    referencedSopInstanceUids,
    referencedSeriesInstanceUid,
    rois: [...rois.values()],
  };
}

/**
 * Refuses a structure set drawn on another frame of reference than the series (another scan or another
 * patient position): its contours would land on the wrong voxels.
 */
export function assertSameFrameOfReference(
  structureSet: StructureSet,
  series: { grid: { frameOfReferenceUid: string }; seriesInstanceUid: string },
  source: string,
): void {
  if (structureSet.frameOfReferenceUid !== series.grid.frameOfReferenceUid) {
    fail(
      `${source}: the structure set is on frame of reference ${structureSet.frameOfReferenceUid}, ` +
        `series ${series.seriesInstanceUid} is on ${series.grid.frameOfReferenceUid}`,
    );
  }
}
