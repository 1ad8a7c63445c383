/**
 * TG-263 structure names (AAPM Report 263, Mayo et al. 2018, "Standardizing Nomenclatures in Radiation
 * Oncology") for post-operative breast and thoracic radiotherapy, and the mapping of clinical ROI names
 * (Eclipse, RayStation, Monaco, Pinnacle habits) onto them.
 *
 * OAR spellings were checked against the TG-263 to SNOMED CT concept map published with HL7 mCODE
 * (input/pagecontent/ConceptMap-TG263CM-intro.md in HL7/fhir-mCODE-ig), which lists every TG-263 term.
 * Two names differ from common belief: the brachial plexus is `BrachialPlex_L` (not `Brachial_Plex_L`)
 * and the thyroid is `Glnd_Thyroid`. TG-263 has both `Body` ("only the body") and `External` ("body plus
 * other external items"); the body outline an import sees is the TPS external contour, so it is `External`.
 *
 * Targets follow the TG-263 target grammar: type (GTV, CTV, PTV), optional classifier (p primary,
 * n nodal, sb surgical bed), then `_` and a structure indicator taken from the TG-263 list, then the
 * spatial suffix `_L`/`_R`; at most 16 characters. Nodal targets therefore read `CTVn_` + the TG-263
 * lymph-node name: `CTVn_LN_Ax_L1_L` is the elective nodal CTV of axillary level 1, left. The anatomical
 * node names themselves (`LN_Ax_L1_L`, what RayStation's breast models emit) are synonyms of these CTVs:
 * in breast radiotherapy a contoured nodal level is always the elective CTV of an atlas (ESTRO, RTOG), so
 * keeping two structures for one volume would stop a model's level 1 being compared with a physician's.
 */

/** Structure category, exactly the values the `structure.category` check constraint allows. */
export type StructureCategory = 'OAR' | 'CTV' | 'nodal' | 'GTV' | 'PTV' | 'external' | 'other';

/** Laterality of a catalogued structure, exactly the values of `structure.laterality`. */
export type StructureLaterality = 'left' | 'right' | 'none';

/** One TG-263 structure ContourBench knows, with the defaults a new `structure` row gets. */
export interface Tg263Structure {
  /** TG-263 primary name, case as published */
  tg263Name: string;
  category: StructureCategory;
  laterality: StructureLaterality;
  description: string;
  /** default display colour, '#rrggbb' lower case (the `colour_rgb` check constraint) */
  colourRgb: string;
}

function entry(
  tg263Name: string,
  category: StructureCategory,
  laterality: StructureLaterality,
  description: string,
  colourRgb: string,
): Tg263Structure {
  return Object.freeze({ tg263Name, category, laterality, description, colourRgb });
}

/**
 * The catalogue: every structure ContourBench maps ROI names onto, in display order (body, OARs, tumour
 * bed, breast and chest-wall CTVs, nodal CTVs). Colours are distinct within each group and the pairs
 * differ in lightness, so a left and a right structure never share a colour.
 */
export const TG263_STRUCTURES: readonly Tg263Structure[] = Object.freeze([
  entry('External', 'external', 'none', 'External contour of the patient (body outline)', '#7fbf7b'),
  entry('Lung_L', 'OAR', 'left', 'Left lung', '#74add1'),
  entry('Lung_R', 'OAR', 'right', 'Right lung', '#4575b4'),
  entry('Lungs', 'OAR', 'none', 'Both lungs as one structure', '#91bfdb'),
  entry('Heart', 'OAR', 'none', 'Heart, whole, including pericardium', '#d73027'),
  entry('A_LAD', 'OAR', 'none', 'Left anterior descending coronary artery', '#f46d43'),
  entry('SpinalCord', 'OAR', 'none', 'Spinal cord', '#fee090'),
  entry('SpinalCanal', 'OAR', 'none', 'Spinal canal (vertebral canal), surrogate for the cord', '#e0c068'),
  entry('Esophagus', 'OAR', 'none', 'Oesophagus', '#8c510a'),
  entry('Glnd_Thyroid', 'OAR', 'none', 'Thyroid gland', '#762a83'),
  entry('Trachea', 'OAR', 'none', 'Trachea', '#80cdc1'),
  // Sternum: RayStation's TG-263 based thorax templates use it, but it is not in the mCODE TG-263 map
  // consulted above; kept as the name everyone uses until a TG-263 revision says otherwise.
  entry('Sternum', 'OAR', 'none', 'Sternum', '#bababa'),
  entry(
    'Breast_L',
    'OAR',
    'left',
    'Left breast as an organ (contralateral breast when treating the right)',
    '#fbb4c4',
  ),
  entry(
    'Breast_R',
    'OAR',
    'right',
    'Right breast as an organ (contralateral breast when treating the left)',
    '#f768a1',
  ),
  entry(
    'Chestwall_L',
    'OAR',
    'left',
    'Left chest wall as an organ (ribs and intercostal muscles)',
    '#fdd49e',
  ),
  entry(
    'Chestwall_R',
    'OAR',
    'right',
    'Right chest wall as an organ (ribs and intercostal muscles)',
    '#fdae6b',
  ),
  entry('Humerus_L', 'OAR', 'left', 'Left humerus', '#c6dbef'),
  entry('Humerus_R', 'OAR', 'right', 'Right humerus', '#9ecae1'),
  entry('BrachialPlex_L', 'OAR', 'left', 'Left brachial plexus', '#66c2a4'),
  entry('BrachialPlex_R', 'OAR', 'right', 'Right brachial plexus', '#238b45'),
  entry('Liver', 'OAR', 'none', 'Liver', '#a6611a'),
  entry('Stomach', 'OAR', 'none', 'Stomach', '#dfc27d'),
  // TG-263 lists TumorBed without a side; it is the delineated cavity (seroma, clips), no margin.
  entry('TumorBed', 'other', 'none', 'Tumour bed (surgical cavity) as delineated, without margin', '#fc9272'),
  entry('CTV_Breast_L', 'CTV', 'left', 'Clinical target volume of the left breast (whole breast)', '#e7298a'),
  entry(
    'CTV_Breast_R',
    'CTV',
    'right',
    'Clinical target volume of the right breast (whole breast)',
    '#ce1256',
  ),
  entry(
    'CTV_Chestwall_L',
    'CTV',
    'left',
    'Clinical target volume of the left chest wall (post-mastectomy)',
    '#d95f0e',
  ),
  entry(
    'CTV_Chestwall_R',
    'CTV',
    'right',
    'Clinical target volume of the right chest wall (post-mastectomy)',
    '#b34700',
  ),
  entry('CTV_TumorBed_L', 'CTV', 'left', 'Clinical target volume of the left tumour bed (boost)', '#cb181d'),
  entry(
    'CTV_TumorBed_R',
    'CTV',
    'right',
    'Clinical target volume of the right tumour bed (boost)',
    '#a50f15',
  ),
  entry('CTVn_LN_Ax_L1_L', 'nodal', 'left', 'Nodal CTV, axillary level 1, left', '#9e9ac8'),
  entry('CTVn_LN_Ax_L1_R', 'nodal', 'right', 'Nodal CTV, axillary level 1, right', '#807dba'),
  entry('CTVn_LN_Ax_L2_L', 'nodal', 'left', 'Nodal CTV, axillary level 2, left', '#6a51a3'),
  entry('CTVn_LN_Ax_L2_R', 'nodal', 'right', 'Nodal CTV, axillary level 2, right', '#54278f'),
  entry('CTVn_LN_Ax_L3_L', 'nodal', 'left', 'Nodal CTV, axillary level 3 (infraclavicular), left', '#3f007d'),
  entry(
    'CTVn_LN_Ax_L3_R',
    'nodal',
    'right',
    'Nodal CTV, axillary level 3 (infraclavicular), right',
    '#2d004b',
  ),
  entry('CTVn_LN_Sclav_L', 'nodal', 'left', 'Nodal CTV, supraclavicular, left', '#41b6c4'),
  entry('CTVn_LN_Sclav_R', 'nodal', 'right', 'Nodal CTV, supraclavicular, right', '#1d91c0'),
  entry('CTVn_LN_IMN_L', 'nodal', 'left', 'Nodal CTV, internal mammary nodes, left', '#7fcdbb'),
  entry('CTVn_LN_IMN_R', 'nodal', 'right', 'Nodal CTV, internal mammary nodes, right', '#2c7fb8'),
  // LN_L/LN_R is the TG-263 "lymph node, left/right": all regional levels drawn as one ROI.
  entry('CTVn_LN_L', 'nodal', 'left', 'Nodal CTV, all regional levels as one structure, left', '#fed976'),
  entry('CTVn_LN_R', 'nodal', 'right', 'Nodal CTV, all regional levels as one structure, right', '#feb24c'),
]);

const BY_NAME: ReadonlyMap<string, Tg263Structure> = new Map(TG263_STRUCTURES.map((s) => [s.tg263Name, s]));

/** The catalogue entry for a TG-263 name (exact spelling), or undefined when ContourBench does not know it. */
export function findTg263Structure(tg263Name: string): Tg263Structure | undefined {
  return BY_NAME.get(tg263Name);
}

// ---------------------------------------------------------------------------------------------------------
// Tokens and the alias key

/** Treated side of a case, as the `case.laterality` column says it (bilateral cases pass null). */
export type TreatedSide = 'left' | 'right';

/** Options of {@link normaliseStructureName}. */
export interface NormaliseOptions {
  /** treated side of the case: resolves 'contralateral'/'ipsilateral' and side-less target names */
  laterality?: TreatedSide | null;
  /** per-site aliases, {@link aliasKey} of the clinical name -> TG-263 name; checked before every rule */
  aliases?: ReadonlyMap<string, string>;
  /**
   * RT ROI Interpreted Type (3006,00A4) of the ROI: GTV, CTV or PTV turns an organ-named breast, chest
   * wall or tumour bed into its CTV; ORGAN or AVOIDANCE keeps the organ; other values are ignored.
   */
  interpretedType?: string | null;
}

/** The result of a successful mapping. */
export interface StructureMatch {
  tg263Name: string;
  /**
   * How the name was recognised, for the import report: 'site alias', 'exact' (the name is the TG-263
   * name), 'normalised' (differs only in case, separators or how the side is written), 'synonym', or
   * ' + '-joined evidence among 'interpreted type', 'contralateral', 'ipsilateral', 'laterality from case'.
   */
  rule: string;
}

type Side = 'l' | 'r';
type SideMark = Side | 'contra' | 'ipsi';

const LEFT_WORDS = new Set(['l', 'lt', 'lft', 'left', 'sin', 'sx', 'links', 'gauche']);
const RIGHT_WORDS = new Set(['r', 'rt', 'rgt', 'right', 'dx', 'dex', 'rechts', 'droit', 'droite']);
const CONTRA_WORDS = new Set(['contra', 'contralat', 'contralateral', 'cl', 'opp', 'opposite']);
const IPSI_WORDS = new Set(['ipsi', 'ipsilat', 'ipsilateral']);
const NUMBER_WORDS: ReadonlyMap<string, string> = new Map([
  ['i', '1'],
  ['ii', '2'],
  ['iii', '3'],
  ['iv', '4'],
  ['one', '1'],
  ['two', '2'],
  ['three', '3'],
]);
/** Token runs that contain a side word but are not a side: 'Left Anterior Descending' is the LAD. */
const PHRASES: ReadonlyArray<readonly [readonly string[], string]> = [
  [['left', 'anterior', 'descending'], 'lad'],
  [['lt', 'ant', 'desc'], 'lad'],
];

/**
 * Lower-case words of a name: split at every non-alphanumeric character and at case changes
 * ('LtLung' -> lt lung, 'LLung' -> l lung, 'CTVBreast' -> ctv breast, 'AxL1' -> ax l1), accents
 * removed, roman and spelled level numbers as digits ('Level III' -> level 3).
 */
function tokenize(name: string): string[] {
  const folded = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/œ/g, 'oe')
    .replace(/Œ/g, 'OE')
    .replace(/æ/g, 'ae')
    .replace(/Æ/g, 'AE')
    .replace(/ß/g, 'ss');
  const tokens: string[] = [];
  for (const chunk of folded.split(/[^A-Za-z0-9]+/)) {
    if (chunk === '') continue;
    const spaced = chunk
      .replace(/([a-z0-9])(?=[A-Z])/g, '$1 ')
      // an upper-case run before a capitalised word of 3+ letters ends a word: 'LLung', 'CTVBreast';
      // 'LNs' and 'IMNs' (TG-263 plurals) stay whole, and so does a target type with its classifier
      // ('CTVsb', 'PTVsb': the T before 'Vsb' is not a word end)
      .replace(/([A-Z])(?=[A-Z][a-z]{2})/g, (_match: string, upper: string, offset: number, whole: string) =>
        offset === 1 && /^[CGP]TV/.test(whole) ? upper : `${upper} `,
      );
    for (const word of spaced.toLowerCase().split(' ')) {
      if (word !== '') tokens.push(NUMBER_WORDS.get(word) ?? word);
    }
  }
  for (const [phrase, replacement] of PHRASES) {
    for (let i = 0; i + phrase.length <= tokens.length; i++) {
      if (phrase.every((word, k) => tokens[i + k] === word)) tokens.splice(i, phrase.length, replacement);
    }
  }
  return tokens;
}

interface SideSplit {
  /** words that are not side words, in order */
  words: string[];
  side: SideMark | null;
  /** two different side marks ('Lung L R', 'Contra Lt Breast') */
  conflict: boolean;
}

function splitSide(tokens: readonly string[]): SideSplit {
  const words: string[] = [];
  let side: SideMark | null = null;
  let conflict = false;
  for (const token of tokens) {
    const mark: SideMark | null = LEFT_WORDS.has(token)
      ? 'l'
      : RIGHT_WORDS.has(token)
        ? 'r'
        : CONTRA_WORDS.has(token)
          ? 'contra'
          : IPSI_WORDS.has(token)
            ? 'ipsi'
            : null;
    if (mark === null) words.push(token);
    else if (side !== null && side !== mark) conflict = true;
    else side = mark;
  }
  return { words, side, conflict };
}

/**
 * The normalised key of a structure name, used to look up and to store per-site aliases
 * (`structure_alias.alias_normalised`): lower case, accents and every separator removed, roman level
 * numbers as digits, and the side folded into one suffix wherever and however it was written:
 * 'Lt Lung', 'LUNG_L', 'Lung (L)', 'left lung' and 'LLung' all give 'lung_l'; 'Contra Breast' gives
 * 'breast_contra', 'Ipsilateral lung' 'lung_ipsi'. A name with two different sides keeps its words
 * unfolded. The empty name gives ''.
 */
export function aliasKey(name: string): string {
  const tokens = tokenize(name);
  const split = splitSide(tokens);
  if (split.conflict) return tokens.join('');
  const base = split.words.join('');
  return split.side === null ? base : `${base}_${split.side}`;
}

// ---------------------------------------------------------------------------------------------------------
// Concepts: what a name (without side and target prefix) can mean

type TargetType = 'GTV' | 'CTV' | 'PTV';

interface TargetForm {
  /** structure indicator after the type: `${type}_${stem}_${side}`, nodal `${type}n_${stem}_${side}` */
  stem: string;
  nodal: boolean;
  /** TG-263 classifiers the name may carry after the type ('' = none) */
  classifiers: ReadonlySet<string>;
  /** a side-less name with no other evidence is the treated side's target ('Breast', 'CW') */
  bareIsTarget: boolean;
  /** generic names ('Nodes') map only with target evidence: a CTV prefix or interpreted type CTV */
  needsEvidence: boolean;
  /** an interpreted type GTV means the target (whole breast) or the organ form (tumour-bed cavity) */
  gtvMeans: 'target' | 'organ';
}

type OrganForm =
  | { kind: 'single'; name: string; sideIgnored: boolean }
  | { kind: 'paired'; stem: string; both: string | null; sideFromCase: boolean };

interface Concept {
  organ: OrganForm | null;
  target: TargetForm | null;
}

function single(name: string, sideIgnored = false): Concept {
  return { organ: { kind: 'single', name, sideIgnored }, target: null };
}

function paired(stem: string, both: string | null = null): Concept {
  return { organ: { kind: 'paired', stem, both, sideFromCase: false }, target: null };
}

function nodal(stem: string, needsEvidence = false): Concept {
  return {
    organ: null,
    target: {
      stem,
      nodal: true,
      classifiers: new Set(['', 'n']),
      bareIsTarget: true,
      needsEvidence,
      gtvMeans: 'target',
    },
  };
}

const CONCEPTS = new Map<string, Concept>();

function define(concept: Concept, keys: readonly string[]): void {
  for (const key of keys) {
    if (CONCEPTS.has(key)) throw new Error(`tg263: synonym key '${key}' defined twice`);
    CONCEPTS.set(key, concept);
  }
}

// 'Skin' is a TG-263 name of its own (the skin as an organ), but in Pinnacle and Monaco practice a
// structure called Skin is the body outline; ContourBench has no skin structure, so it reads as External.
define(single('External'), [
  'external',
  'body',
  'skin',
  'outline',
  'ext',
  'bodyoutline',
  'patientoutline',
  'externalcontour',
  'bodycontour',
  'skinoutline',
  'externalbody',
  'bodyexternal',
  'outercontour',
]);
define(paired('Lung', 'Lungs'), ['lung', 'lunge', 'poumon']);
define(single('Lungs'), [
  'lungs',
  'totallung',
  'lungtotal',
  'totallungs',
  'lungstotal',
  'bothlungs',
  'lungsboth',
  'lungboth',
  'lungbilat',
  'lungsbilat',
  'lungbilateral',
  'lungsbilateral',
  'bilaterallungs',
  'combinedlung',
  'combinedlungs',
  'lungcombined',
  'lungscombined',
]);
define(single('Heart'), ['heart', 'wholeheart', 'heartwhole', 'herz', 'coeur']);
define(single('A_LAD'), [
  'alad',
  'lad',
  'ladca',
  'aladca',
  'ladartery',
  'arterylad',
  'ladcoronary',
  'ladcoronaryartery',
  'coronarylad',
]);
define(single('SpinalCord'), [
  'spinalcord',
  'cord',
  'sc',
  'spcord',
  'cordspinal',
  'myelon',
  'medullaspinalis',
]);
define(single('SpinalCanal'), [
  'spinalcanal',
  'canal',
  'spcanal',
  'canalspinal',
  'vertebralcanal',
  'spinalcanalfull',
]);
define(single('Esophagus'), [
  'esophagus',
  'oesophagus',
  'esoph',
  'oesoph',
  'eso',
  'oeso',
  'esophag',
  'oesophag',
  'oesophage',
  'osophagus',
]);
define(single('Glnd_Thyroid'), [
  'glndthyroid',
  'thyroid',
  'thyroidgland',
  'glandthyroid',
  'thyroidglnd',
  'thyroidea',
]);
define(single('Trachea'), ['trachea', 'trach']);
define(single('Sternum'), ['sternum', 'bonesternum']);
define(paired('Humerus'), ['humerus', 'humer']);
define(paired('BrachialPlex'), [
  'brachialplex',
  'brachialplexus',
  'brachplex',
  'brachialplx',
  'bplexus',
  'plexusbrachialis',
]);
define(single('Liver'), ['liver', 'leber', 'foie']);
define(single('Stomach'), ['stomach', 'magen']);

const BREAST_LIKE = (stem: string): Concept => ({
  organ: { kind: 'paired', stem, both: null, sideFromCase: true },
  target: {
    stem,
    nodal: false,
    classifiers: new Set(['', 'p']),
    bareIsTarget: true,
    needsEvidence: false,
    gtvMeans: 'target',
  },
});
define(BREAST_LIKE('Breast'), [
  'breast',
  'wholebreast',
  'breastwhole',
  'wb',
  'breasttissue',
  'mamma',
  'brust',
]);
define(BREAST_LIKE('Chestwall'), ['chestwall', 'cw', 'thoracicwall']);

// The tumour bed as a name is the cavity (TG-263 TumorBed); only a CTV prefix, the sb classifier or
// interpreted type CTV makes it the boost CTV, which is 10-15 mm larger: guessing would compare
// different volumes.
const TUMOUR_BED: Concept = {
  organ: { kind: 'single', name: 'TumorBed', sideIgnored: true },
  target: {
    stem: 'TumorBed',
    nodal: false,
    classifiers: new Set(['', 'p', 'sb']),
    bareIsTarget: false,
    needsEvidence: false,
    gtvMeans: 'organ',
  },
};
define(TUMOUR_BED, [
  'tumorbed',
  'tumourbed',
  'tb',
  'tbed',
  'lumpectomybed',
  'lumpectomycavity',
  'lumpcavity',
  'cavity',
  'seroma',
  'surgicalbed',
  'surgicalcavity',
  'tumorcavity',
  'tumourcavity',
  'excisioncavity',
]);

const AXILLA_HEADS = [
  'ax',
  'axl',
  'axlevel',
  'axlvl',
  'axilla',
  'axillal',
  'axillalevel',
  'axillary',
  'axillaryl',
  'axillarylevel',
  'axillarynodeslevel',
  'level',
  'lvl',
  'lev',
  'levelax',
  'lnax',
  'lnaxl',
  'lnaxlevel',
  'lnlevel',
];
for (const level of [1, 2, 3]) {
  define(nodal(`LN_Ax_L${level}`), [
    ...AXILLA_HEADS.map((head) => `${head}${level}`),
    `level${level}ax`,
    `level${level}axilla`,
    `level${level}axillary`,
    ...(level === 3 ? ['infraclav', 'infraclavicular', 'infraclavicularfossa'] : []),
  ]);
}
define(nodal('LN_Sclav'), [
  'sclav',
  'supraclav',
  'supraclavicular',
  'supraclavfossa',
  'supraclavicularfossa',
  'supraclavicularnodes',
  'supraclavicularln',
  'scf',
  'scv',
  'scfnodes',
  'scln',
  'lnsclav',
  'lnsupraclav',
  'lnsupraclavicular',
  'lnscf',
]);
define(nodal('LN_IMN'), [
  'imn',
  'imc',
  'imln',
  'imnnodes',
  'imnodes',
  'imchain',
  'intmam',
  'intmammary',
  'intmammarynodes',
  'internalmammary',
  'internalmammarynodes',
  'internalmammarychain',
  'lnimn',
  'parasternal',
  'lnparasternal',
]);
// 'Nodes' alone is ambiguous (regional CTV, gross nodes, or an avoidance region): it needs evidence.
define(nodal('LN', true), [
  'ln',
  'lns',
  'node',
  'nodes',
  'nodal',
  'lymphnode',
  'lymphnodes',
  'regionalnodes',
  'regionalln',
  'nodalregions',
]);

/**
 * Words of planning helpers, never a clinical structure: rings, optimisation and avoidance shells, blocks,
 * markers, PRVs (none is catalogued), wires and scars, dose structures. TG-263 marks such structures with a
 * leading 'z' or '_', handled separately.
 */
const HELPER_WORDS = new Set([
  'ring',
  'opt',
  'optim',
  'optimization',
  'optimisation',
  'avoid',
  'avoidance',
  'avd',
  'block',
  'blk',
  'border',
  'borders',
  'scar',
  'areola',
  'nipple',
  'wire',
  'wires',
  'marker',
  'markers',
  'bolus',
  'dose',
  'isodose',
  'help',
  'helper',
  'tmp',
  'temp',
  'prv',
  'couch',
  'table',
  'artifact',
  'artefact',
  'override',
  'clip',
  'clips',
  'dummy',
  'eval',
  'crop',
  'cropped',
  'minus',
  'shell',
  'ctrl',
  'control',
]);

interface TargetPrefix {
  type: TargetType;
  classifier: string;
}

function targetPrefix(token: string | undefined): TargetPrefix | null {
  const m = token === undefined ? null : /^(gtv|ctv|ptv)(sb|p|n)?$/.exec(token);
  if (m === null) return null;
  return { type: m[1].toUpperCase() as TargetType, classifier: m[2] ?? '' };
}

type TypeEvidence = TargetType | 'organ' | null;

function typeEvidence(interpretedType: string | null | undefined): TypeEvidence {
  const t = (interpretedType ?? '').trim().toUpperCase();
  if (t === 'GTV' || t === 'CTV' || t === 'PTV') return t;
  if (t === 'ORGAN' || t === 'AVOIDANCE') return 'organ';
  return null;
}

const SIDE_SUFFIX: Readonly<Record<Side, string>> = { l: 'L', r: 'R' };

/**
 * Maps a clinical ROI name to its TG-263 name, or null when the name is not a catalogued structure or
 * is ambiguous. Order: per-site alias (by {@link aliasKey}); TG-263 not-evaluated prefixes ('z', '_'),
 * partial '~' and custom '^' qualifiers and planning-helper words -> null; then the name without its side
 * and target prefix is looked up among the built-in synonyms. Case, spaces, dashes, dots and underscores
 * never matter, and the side may stand anywhere in any spelling ('Lt Lung', 'Lung (L)', 'LLung').
 *
 * Sides: a name's own side always wins; 'contralateral'/'ipsilateral' and side-less target names
 * ('CTV Breast', 'SCF', 'Level I') take it from `options.laterality` and are null without it. Unpaired
 * organs with a side ('Heart L') and names with two sides are null. A side-less paired organ is null
 * except Lung (-> Lungs) and an organ-typed Breast or Chest wall (-> the treated side).
 *
 * Breast and chest wall: a target prefix or an interpreted type GTV, CTV or PTV makes the target (GTV
 * counts as CTV: after surgery there is no gross tumour, and Eclipse plans often type the whole breast
 * GTV); ORGAN or AVOIDANCE, a contralateral or ipsilateral mark, or a side in the name without a type make
 * the organ; a bare 'Breast', 'Chest wall' or 'CW' is the treated side's CTV. Only catalogued results
 * are returned, so 'PTV Breast' and 'Heart_PRV' are null rather than the CTV or the heart.
 */
export function normaliseStructureName(name: string, options: NormaliseOptions = {}): StructureMatch | null {
  const raw = name.trim();
  if (raw === '') return null;
  const key = aliasKey(raw);
  const alias = options.aliases?.get(key);
  if (alias !== undefined) return { tg263Name: alias, rule: 'site alias' };
  if (/^[zZ_]/.test(raw) || /[~^]/.test(raw)) return null;

  const tokens = tokenize(raw);
  if (tokens.some((t) => HELPER_WORDS.has(t))) return null;
  const split = splitSide(tokens);
  if (split.conflict) return null;

  let words = split.words;
  let prefix = targetPrefix(words[0]);
  if (prefix !== null) words = words.slice(1);
  else {
    prefix = targetPrefix(words[words.length - 1]);
    if (prefix !== null) words = words.slice(0, -1);
  }
  if (words.some((w) => targetPrefix(w) !== null)) return null;

  const baseKey = words.join('');
  const concept =
    baseKey === '' && prefix?.classifier === 'n'
      ? CONCEPTS.get('nodes')
      : baseKey === '' && prefix?.classifier === 'sb'
        ? TUMOUR_BED
        : CONCEPTS.get(baseKey);
  if (concept === undefined) return null;

  const resolved = resolve(concept, split.side, prefix, options);
  if (resolved === null || !BY_NAME.has(resolved.tg263Name)) return null;
  const tg263Name = resolved.tg263Name;
  const rule =
    tg263Name === raw
      ? 'exact'
      : aliasKey(tg263Name) === key
        ? 'normalised'
        : resolved.evidence.length > 0
          ? resolved.evidence.join(' + ')
          : 'synonym';
  return { tg263Name, rule };
}

function resolve(
  concept: Concept,
  mark: SideMark | null,
  prefix: TargetPrefix | null,
  options: NormaliseOptions,
): { tg263Name: string; evidence: string[] } | null {
  const evidence: string[] = [];
  const caseSide: Side | null =
    options.laterality === 'left' ? 'l' : options.laterality === 'right' ? 'r' : null;
  const typed = typeEvidence(options.interpretedType);
  const { organ, target } = concept;

  let form: 'organ' | 'target';
  let type: TargetType = 'CTV';
  if (prefix !== null) {
    if (target === null || !target.classifiers.has(prefix.classifier)) return null;
    form = 'target';
    type = prefix.type;
  } else if (organ === null && target !== null) {
    form = 'target';
    if (typed === 'PTV') type = 'PTV';
    if (target.needsEvidence) {
      if (typed !== 'CTV') return null;
      evidence.push('interpreted type');
    }
  } else if (target === null) {
    form = 'organ';
  } else if (mark === 'contra' || mark === 'ipsi') {
    form = 'organ';
  } else if (typed === 'CTV' || typed === 'PTV' || (typed === 'GTV' && target.gtvMeans === 'target')) {
    form = 'target';
    type = typed === 'PTV' ? 'PTV' : 'CTV';
    evidence.push('interpreted type');
  } else if (typed === 'organ' || typed === 'GTV') {
    form = 'organ';
    evidence.push('interpreted type');
  } else {
    form = mark === null && target.bareIsTarget ? 'target' : 'organ';
  }

  let side: Side | null = null;
  if (mark === 'l' || mark === 'r') side = mark;
  else if (mark === 'contra' || mark === 'ipsi') {
    if (caseSide === null) return null;
    side = mark === 'ipsi' ? caseSide : caseSide === 'l' ? 'r' : 'l';
    evidence.push(mark === 'ipsi' ? 'ipsilateral' : 'contralateral');
  }

  if (form === 'organ') {
    if (organ === null) return null;
    if (organ.kind === 'single') {
      if (side !== null && !organ.sideIgnored) return null;
      return { tg263Name: organ.name, evidence };
    }
    if (side === null) {
      if (organ.both !== null) return { tg263Name: organ.both, evidence };
      if (!organ.sideFromCase || caseSide === null) return null;
      side = caseSide;
      evidence.push('laterality from case');
    }
    return { tg263Name: `${organ.stem}_${SIDE_SUFFIX[side]}`, evidence };
  }

  if (target === null) return null;
  if (side === null) {
    if (caseSide === null) return null;
    side = caseSide;
    evidence.push('laterality from case');
  }
  const head = target.nodal ? `${type}n` : type;
  return { tg263Name: `${head}_${target.stem}_${SIDE_SUFFIX[side]}`, evidence };
}

/** One ROI for {@link structureReport}: its name and, when known, its RT ROI Interpreted Type. */
export interface RoiNameInput {
  name: string;
  interpretedType?: string | null;
}

/** What an import shows about the ROI names of one structure set. */
export interface StructureReport {
  /** mapped ROIs in input order */
  mapped: Array<{ name: string; tg263Name: string; rule: string }>;
  /** ROI names no rule recognised, in input order */
  unmapped: string[];
  /** TG-263 names claimed by more than one ROI, with those ROI names; the importer must pick one */
  duplicates: Array<{ tg263Name: string; names: string[] }>;
}

/**
 * Maps every ROI name of a structure set with {@link normaliseStructureName} and sorts them into mapped,
 * unmapped and duplicates. A per-ROI interpreted type overrides `options.interpretedType`. Empty input
 * gives empty lists.
 */
export function structureReport(
  names: ReadonlyArray<string | RoiNameInput>,
  options: NormaliseOptions = {},
): StructureReport {
  const mapped: StructureReport['mapped'] = [];
  const unmapped: string[] = [];
  const claimants = new Map<string, string[]>();
  for (const item of names) {
    const roi: RoiNameInput = typeof item === 'string' ? { name: item } : item;
    const match = normaliseStructureName(roi.name, {
      ...options,
      interpretedType: roi.interpretedType !== undefined ? roi.interpretedType : options.interpretedType,
    });
    if (match === null) {
      unmapped.push(roi.name);
      continue;
    }
    mapped.push({ name: roi.name, tg263Name: match.tg263Name, rule: match.rule });
    const list = claimants.get(match.tg263Name);
    if (list === undefined) claimants.set(match.tg263Name, [roi.name]);
    else list.push(roi.name);
  }
  const duplicates: StructureReport['duplicates'] = [];
  for (const [tg263Name, claimed] of claimants) {
    if (claimed.length > 1) duplicates.push({ tg263Name, names: claimed });
  }
  return { mapped, unmapped, duplicates };
}
