import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { RoleName } from '../../core/access/permissions';

// Hand-written table types; the migrations in /migrations are the truth and test/db/schema.test.ts checks
// that every table and column here exists there with a matching nullability.

/** timestamptz: read as Date, written as Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** timestamptz with a database default. */
export type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** date: a calendar day 'YYYY-MM-DD' (the pg type parser keeps it a string). */
export type CalendarDate = string;
/** jsonb with a database default. */
export type Json<T> = ColumnType<T, T | undefined, T>;
/** identity column: generated always, never written. */
export type Id = ColumnType<number, never, never>;

export type { RoleName };
export type StructureCategory = 'OAR' | 'CTV' | 'nodal' | 'GTV' | 'PTV' | 'external' | 'other';
export type StructureLaterality = 'left' | 'right' | 'none';
export type CaseLaterality = 'left' | 'right' | 'bilateral';
export type SurgeryType = 'breast_conserving' | 'mastectomy' | 'mastectomy_reconstruction' | 'none';
export type ContourSetSource = 'physician' | 'model' | 'consensus' | 'corrected';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type Profession =
  'radiation_oncologist' | 'resident' | 'dosimetrist' | 'physicist' | 'radiographer' | 'other';
export type Seniority = 'trainee' | 'junior' | 'senior' | 'expert';
export type EditingMode = 'from_scratch' | 'editing_ai' | 'editing_other';

export interface RoleTable {
  name: RoleName;
  description: string;
}

export interface SiteTable {
  id: Id;
  code: string;
  name: string;
  country: string | null;
  worker_queue: string | null;
  created_at: DefaultTimestamp;
  pseudonym_key: string | null;
  keep_uid_map: Generated<boolean>;
}

export interface AppUserTable {
  id: Id;
  email: string;
  display_name: string;
  role: RoleName;
  password_hash: string | null;
  is_active: Generated<boolean>;
  created_at: DefaultTimestamp;
  last_login_at: Timestamp | null;
  password_changed_at: Timestamp | null;
  oidc_subject: string | null;
}

export interface UserSessionTable {
  token_sha256: string;
  user_id: number;
  created_at: DefaultTimestamp;
  last_seen_at: DefaultTimestamp;
  expires_at: Timestamp;
  ip_address: string | null;
  user_agent: string | null;
}

export interface ApiTokenTable {
  id: Id;
  user_id: number;
  name: string;
  token_sha256: string;
  prefix: string;
  created_at: DefaultTimestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface LoginAttemptTable {
  id: Id;
  attempted_at: DefaultTimestamp;
  email: string;
  ip_address: string | null;
  succeeded: boolean;
}

export interface SiteAccessTable {
  user_id: number;
  site_id: number;
  granted_at: DefaultTimestamp;
}

export interface AuditEventTable {
  id: Id;
  occurred_at: DefaultTimestamp;
  user_id: number | null;
  action: string;
  object_type: string;
  object_id: string | null;
  site_id: number | null;
  ip_address: string | null;
  details: Json<Record<string, unknown>>;
}

export interface ObserverTable {
  id: Id;
  site_id: number;
  code: string;
  display_name: string;
  profession: Generated<Profession>;
  seniority: Seniority | null;
  years_experience: number | null;
  user_id: number | null;
  created_at: DefaultTimestamp;
}

export interface StructureTable {
  id: Id;
  tg263_name: string;
  description: Generated<string>;
  category: StructureCategory;
  laterality: Generated<StructureLaterality>;
  fma_id: number | null;
  colour_rgb: string | null;
  created_at: DefaultTimestamp;
}

export interface StructureAliasTable {
  id: Id;
  site_id: number | null;
  alias: string;
  alias_normalised: string;
  structure_id: number;
  created_at: DefaultTimestamp;
}

export interface BlobTable {
  sha256: string;
  size_bytes: number;
  media_type: string;
  compression: Generated<'none' | 'gzip' | 'zstd'>;
  stored_size_bytes: number;
  data: Buffer | null;
  created_at: DefaultTimestamp;
}

export interface PatientCaseTable {
  id: Id;
  site_id: number;
  pseudonym: string;
  patient_key_sha256: string | null;
  acquisition_date: CalendarDate | null;
  laterality: CaseLaterality | null;
  surgery_type: SurgeryType | null;
  protocol: string | null;
  manufacturer: string | null;
  scanner_model: string | null;
  convolution_kernel: string | null;
  kvp: number | null;
  slice_thickness_mm: number | null;
  pixel_spacing_mm: number | null;
  hu_mean: number | null;
  hu_std: number | null;
  hu_p05: number | null;
  hu_p50: number | null;
  hu_p95: number | null;
  noise_std_hu: number | null;
  image_features: Json<Record<string, number | string | null>>;
  notes: Generated<string>;
  imported_at: DefaultTimestamp;
  imported_by: number | null;
}

export interface ImageSeriesTable {
  id: Id;
  case_id: number;
  series_instance_uid: string;
  frame_of_reference_uid: string;
  modality: Generated<string>;
  description: Generated<string>;
  dim_x: number;
  dim_y: number;
  dim_z: number;
  spacing_x_mm: number;
  spacing_y_mm: number;
  spacing_z_mm: number;
  origin_lps_mm: number[];
  direction_lps: number[];
  slice_positions_mm: number[];
  volume_blob_sha256: string | null;
  dicom_blob_sha256: string | null;
  created_at: DefaultTimestamp;
  study_instance_uid: string | null;
  sop_class_uid: string | null;
  sop_instance_uids: Generated<string[]>;
  slice_origins_lps_mm: Generated<number[]>;
}

export interface ModelTable {
  id: Id;
  name: string;
  vendor: Generated<string>;
  description: Generated<string>;
  created_at: DefaultTimestamp;
}

export interface ModelVersionTable {
  id: Id;
  model_id: number;
  version: string;
  onnx_sha256: string;
  card: Record<string, unknown>;
  registered_at: DefaultTimestamp;
  registered_by: number | null;
}

export interface CohortTable {
  id: Id;
  name: string;
  description: Generated<string>;
  created_at: DefaultTimestamp;
  created_by: number | null;
}

export interface CohortCaseTable {
  cohort_id: number;
  case_id: number;
  reason: Generated<string>;
  added_at: DefaultTimestamp;
}

export interface EvaluationRunTable {
  id: Id;
  cohort_id: number;
  model_version_id: number;
  status: Generated<RunStatus>;
  parameters: Json<Record<string, unknown>>;
  jobs_total: Generated<number>;
  jobs_succeeded: Generated<number>;
  jobs_failed: Generated<number>;
  error: string | null;
  created_at: DefaultTimestamp;
  created_by: number | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  cohort_version_id: number | null;
}

export interface CohortVersionTable {
  id: Id;
  cohort_id: number;
  version: number;
  content_sha256: string;
  reference_policy: Record<string, unknown>;
  case_count: number;
  note: Generated<string>;
  frozen_at: DefaultTimestamp;
  frozen_by: number | null;
}

export interface CohortVersionCaseTable {
  cohort_version_id: number;
  case_id: number;
}

export interface CohortFindingDecisionTable {
  cohort_id: number;
  case_id: number;
  check_name: string;
  structure: Generated<string>;
  decision: 'accepted' | 'excluded';
  note: string;
  decided_by: number | null;
  decided_at: DefaultTimestamp;
}

export interface MaskCheckResultTable {
  mask_blob_sha256: string;
  check_name: 'shape' | 'outside_body' | 'dice';
  other_blob_sha256: Generated<string>;
  grid: string;
  definition_version: number;
  result: Record<string, unknown>;
  computed_at: DefaultTimestamp;
}

export interface CohortVersionReferenceTable {
  cohort_version_id: number;
  case_id: number;
  structure_id: number;
  contour_set_id: number;
  mask_blob_sha256: string;
}

export interface ContourSetTable {
  id: Id;
  case_id: number;
  source: ContourSetSource;
  observer_id: number | null;
  model_version_id: number | null;
  parent_set_id: number | null;
  evaluation_run_id: number | null;
  variant: Generated<string>;
  label: Generated<string>;
  sop_instance_uid: string | null;
  created_at: DefaultTimestamp;
  image_series_id: number | null;
  /** ROI names of an imported set that map to no TG-263 structure */
  unmapped_roi_names: Generated<string[]>;
}

export interface ContourTable {
  id: Id;
  contour_set_id: number;
  structure_id: number;
  mask_blob_sha256: string;
  volume_cc: number;
  voxel_count: number;
  bbox_ijk: number[] | null;
  source_roi_name: string | null;
  source_roi_number: number | null;
  colour_rgb: string | null;
  created_at: DefaultTimestamp;
}

/** Tolerance in mm, written as the engine formats it ("1", "2.5"), to the value at that tolerance. */
export type ByTolerance = Record<string, number | null>;

export interface MetricTable {
  id: Id;
  case_id: number;
  reference_set_id: number;
  test_set_id: number;
  structure_id: number;
  evaluation_run_id: number | null;
  definition_version: string;
  parameters: Record<string, unknown>;
  reference_empty: boolean;
  test_empty: boolean;
  detected: boolean | null;
  reference_volume_cc: number;
  test_volume_cc: number;
  intersection_volume_cc: number;
  volume_diff_cc: number;
  volume_diff_pct: number | null;
  dice: number | null;
  jaccard: number | null;
  sensitivity: number | null;
  precision: number | null;
  hd95_mm: number | null;
  hd_max_mm: number | null;
  hd95_ref_to_test_mm: number | null;
  hd95_test_to_ref_mm: number | null;
  hd95_pooled_mm: number | null;
  hd95_directed_mean_mm: number | null;
  hd95_voxel_centre_mm: number | null;
  msd_ref_to_test_mm: number | null;
  msd_test_to_ref_mm: number | null;
  msd_mean_mm: number | null;
  assd_mm: number | null;
  surface_area_ref_mm2: number;
  surface_area_test_mm2: number;
  surface_dice: Json<ByTolerance>;
  apl_pixel_mm: Json<ByTolerance>;
  apl_contour_mm: Json<ByTolerance>;
  apl_slices: Record<string, number[]> | null;
  centroid_shift_mm: number | null;
  centroid_shift_lps_mm: number[] | null;
  cranial_extent_error_mm: number | null;
  caudal_extent_error_mm: number | null;
  computed_at: DefaultTimestamp;
  /** per dose metric ("Dmean", "V20Gy"): the test contour's value minus the reference's; null without dose */
  dose_delta: Record<string, number> | null;
}

export interface JobOutcomeTable {
  id: Id;
  evaluation_run_id: number;
  case_id: number;
  status: 'succeeded' | 'failed';
  attempts: Generated<number>;
  error_code: string | null;
  error_message: string | null;
  worker_id: string | null;
  started_at: Timestamp;
  finished_at: Timestamp;
  duration_ms: number;
}

export interface EditingSessionTable {
  id: Id;
  observer_id: number;
  case_id: number;
  structure_id: number | null;
  from_set_id: number | null;
  to_set_id: number | null;
  started_at: Timestamp;
  ended_at: Timestamp;
  active_seconds: number;
  mode: Generated<EditingMode>;
  tool: string | null;
  created_at: DefaultTimestamp;
}

export interface ReviewTable {
  id: Id;
  contour_set_id: number;
  structure_id: number;
  reviewer_id: number;
  grade: 1 | 2 | 3 | 4;
  comment: Generated<string>;
  created_at: DefaultTimestamp;
}

export interface AlarmTable {
  id: Id;
  series_key: string;
  rule: string;
  metric_name: string;
  model_version_id: number | null;
  site_id: number | null;
  structure_id: number | null;
  point_at: Timestamp;
  value: number | null;
  details: Json<Record<string, unknown>>;
  raised_at: DefaultTimestamp;
  acknowledged_at: Timestamp | null;
  acknowledged_by: number | null;
  acknowledgement_note: string | null;
}

export interface WorkerPoolTable {
  pool_id: string;
  queue: string | null;
  hostname: string;
  pid: number;
  concurrency: number;
  worker_ids: Generated<string[]>;
  version: string;
  started_at: DefaultTimestamp;
  last_seen_at: DefaultTimestamp;
}

export interface HealthPingTable {
  nonce: string;
  requested_at: DefaultTimestamp;
  completed_at: Timestamp | null;
  worker_id: string | null;
  hostname: string | null;
}

export interface UidMapTable {
  site_id: number;
  pseudonymous_uid: string;
  original_uid: string;
}

export interface ConsensusRaterTable {
  consensus_set_id: number;
  structure_id: number;
  rater_set_id: number;
  sensitivity: number;
  specificity: number;
  prior: number;
  iterations: number;
  converged: boolean;
  computed_at: DefaultTimestamp;
}

export interface AcceptanceCriterionTable {
  id: Id;
  criteria_set: string;
  structure_id: number | null;
  metric: string;
  comparator: '>=' | '<=';
  threshold: number;
  min_pass_rate: Generated<number>;
  note: Generated<string>;
  created_at: DefaultTimestamp;
  created_by: number | null;
}

export interface AnalyticsVersionTable {
  singleton: Generated<boolean>;
  version: number;
  changed_at: DefaultTimestamp;
}

export interface Database {
  role: RoleTable;
  site: SiteTable;
  app_user: AppUserTable;
  site_access: SiteAccessTable;
  audit_event: AuditEventTable;
  user_session: UserSessionTable;
  api_token: ApiTokenTable;
  login_attempt: LoginAttemptTable;
  observer: ObserverTable;
  structure: StructureTable;
  structure_alias: StructureAliasTable;
  blob: BlobTable;
  patient_case: PatientCaseTable;
  image_series: ImageSeriesTable;
  model: ModelTable;
  model_version: ModelVersionTable;
  cohort: CohortTable;
  cohort_case: CohortCaseTable;
  evaluation_run: EvaluationRunTable;
  cohort_version: CohortVersionTable;
  cohort_version_case: CohortVersionCaseTable;
  cohort_version_reference: CohortVersionReferenceTable;
  cohort_finding_decision: CohortFindingDecisionTable;
  mask_check_result: MaskCheckResultTable;
  contour_set: ContourSetTable;
  contour: ContourTable;
  metric: MetricTable;
  job_outcome: JobOutcomeTable;
  editing_session: EditingSessionTable;
  review: ReviewTable;
  alarm: AlarmTable;
  worker_pool: WorkerPoolTable;
  health_ping: HealthPingTable;
  uid_map: UidMapTable;
  consensus_rater: ConsensusRaterTable;
  acceptance_criterion: AcceptanceCriterionTable;
  analytics_version: AnalyticsVersionTable;
  /** A case's planned dose (an imported RTDOSE): grid geometry, float32 Gy voxels in a blob, prescription. */
  dose_grid: {
    id: Id;
    case_id: number;
    image_series_id: number;
    sop_instance_uid: string;
    dim_x: number;
    dim_y: number;
    dim_z: number;
    spacing_x_mm: number;
    spacing_y_mm: number;
    spacing_z_mm: number;
    origin_lps_mm: number[];
    direction_lps: number[];
    dose_blob_sha256: string;
    dose_type: 'PHYSICAL' | 'EFFECTIVE' | 'ERROR';
    summation_type: string;
    max_gy: number;
    prescription_gy: number | null;
    fractions: number | null;
    created_at: DefaultTimestamp;
  };
  dose_metric: {
    id: Id;
    dose_grid_id: number;
    contour_set_id: number;
    structure_id: number;
    mask_blob_sha256: string;
    definition_version: string;
    volume_cc: number;
    outside_dose_cc: number;
    /** dose metric ("Dmean", "D95%", "V20Gy") -> value in Gy or % of the structure volume, null undefined */
    metric_values: Record<string, number | null>;
    dvh_bin_width_gy: number;
    /** cumulative DVH, % of the volume at each multiple of the bin width from 0 Gy */
    dvh_cumulative_pct: number[];
    computed_at: DefaultTimestamp;
  };
}

/**
 * Column nullability of every table, as the schema test compares it with the migrated database. Kept
 * beside the interfaces so a new column is added in both places in one edit.
 */
export const schemaColumns = {
  role: { name: false, description: false },
  site: {
    id: false,
    code: false,
    name: false,
    country: true,
    worker_queue: true,
    created_at: false,
    pseudonym_key: true,
    keep_uid_map: false,
  },
  app_user: {
    id: false,
    email: false,
    display_name: false,
    role: false,
    password_hash: true,
    is_active: false,
    created_at: false,
    last_login_at: true,
    password_changed_at: true,
    oidc_subject: true,
  },
  user_session: {
    token_sha256: false,
    user_id: false,
    created_at: false,
    last_seen_at: false,
    expires_at: false,
    ip_address: true,
    user_agent: true,
  },
  api_token: {
    id: false,
    user_id: false,
    name: false,
    token_sha256: false,
    prefix: false,
    created_at: false,
    expires_at: true,
    last_used_at: true,
    revoked_at: true,
  },
  login_attempt: { id: false, attempted_at: false, email: false, ip_address: true, succeeded: false },
  site_access: { user_id: false, site_id: false, granted_at: false },
  audit_event: {
    id: false,
    occurred_at: false,
    user_id: true,
    action: false,
    object_type: false,
    object_id: true,
    site_id: true,
    ip_address: true,
    details: false,
  },
  observer: {
    id: false,
    site_id: false,
    code: false,
    display_name: false,
    profession: false,
    seniority: true,
    years_experience: true,
    user_id: true,
    created_at: false,
  },
  structure: {
    id: false,
    tg263_name: false,
    description: false,
    category: false,
    laterality: false,
    fma_id: true,
    colour_rgb: true,
    created_at: false,
  },
  structure_alias: {
    id: false,
    site_id: true,
    alias: false,
    alias_normalised: false,
    structure_id: false,
    created_at: false,
  },
  blob: {
    sha256: false,
    size_bytes: false,
    media_type: false,
    compression: false,
    stored_size_bytes: false,
    data: true,
    created_at: false,
  },
  patient_case: {
    id: false,
    site_id: false,
    pseudonym: false,
    patient_key_sha256: true,
    acquisition_date: true,
    laterality: true,
    surgery_type: true,
    protocol: true,
    manufacturer: true,
    scanner_model: true,
    convolution_kernel: true,
    kvp: true,
    slice_thickness_mm: true,
    pixel_spacing_mm: true,
    hu_mean: true,
    hu_std: true,
    hu_p05: true,
    hu_p50: true,
    hu_p95: true,
    noise_std_hu: true,
    image_features: false,
    notes: false,
    imported_at: false,
    imported_by: true,
  },
  image_series: {
    id: false,
    case_id: false,
    series_instance_uid: false,
    frame_of_reference_uid: false,
    modality: false,
    description: false,
    dim_x: false,
    dim_y: false,
    dim_z: false,
    spacing_x_mm: false,
    spacing_y_mm: false,
    spacing_z_mm: false,
    origin_lps_mm: false,
    direction_lps: false,
    slice_positions_mm: false,
    volume_blob_sha256: true,
    dicom_blob_sha256: true,
    created_at: false,
    study_instance_uid: true,
    sop_class_uid: true,
    sop_instance_uids: false,
    slice_origins_lps_mm: false,
  },
  model: { id: false, name: false, vendor: false, description: false, created_at: false },
  model_version: {
    id: false,
    model_id: false,
    version: false,
    onnx_sha256: false,
    card: false,
    registered_at: false,
    registered_by: true,
  },
  cohort: { id: false, name: false, description: false, created_at: false, created_by: true },
  cohort_case: { cohort_id: false, case_id: false, reason: false, added_at: false },
  evaluation_run: {
    id: false,
    cohort_id: false,
    model_version_id: false,
    status: false,
    parameters: false,
    jobs_total: false,
    jobs_succeeded: false,
    jobs_failed: false,
    error: true,
    created_at: false,
    created_by: true,
    started_at: true,
    finished_at: true,
    cohort_version_id: true,
  },
  cohort_version: {
    id: false,
    cohort_id: false,
    version: false,
    content_sha256: false,
    reference_policy: false,
    case_count: false,
    note: false,
    frozen_at: false,
    frozen_by: true,
  },
  cohort_version_case: { cohort_version_id: false, case_id: false },
  cohort_finding_decision: {
    cohort_id: false,
    case_id: false,
    check_name: false,
    structure: false,
    decision: false,
    note: false,
    decided_by: true,
    decided_at: false,
  },
  mask_check_result: {
    mask_blob_sha256: false,
    check_name: false,
    other_blob_sha256: false,
    grid: false,
    definition_version: false,
    result: false,
    computed_at: false,
  },
  cohort_version_reference: {
    cohort_version_id: false,
    case_id: false,
    structure_id: false,
    contour_set_id: false,
    mask_blob_sha256: false,
  },
  contour_set: {
    id: false,
    case_id: false,
    source: false,
    observer_id: true,
    model_version_id: true,
    parent_set_id: true,
    evaluation_run_id: true,
    variant: false,
    label: false,
    sop_instance_uid: true,
    created_at: false,
    image_series_id: true,
    unmapped_roi_names: false,
  },
  contour: {
    id: false,
    contour_set_id: false,
    structure_id: false,
    mask_blob_sha256: false,
    volume_cc: false,
    voxel_count: false,
    bbox_ijk: true,
    source_roi_name: true,
    source_roi_number: true,
    colour_rgb: true,
    created_at: false,
  },
  metric: {
    id: false,
    case_id: false,
    reference_set_id: false,
    test_set_id: false,
    structure_id: false,
    evaluation_run_id: true,
    definition_version: false,
    parameters: false,
    reference_empty: false,
    test_empty: false,
    detected: true,
    reference_volume_cc: false,
    test_volume_cc: false,
    intersection_volume_cc: false,
    volume_diff_cc: false,
    volume_diff_pct: true,
    dice: true,
    jaccard: true,
    sensitivity: true,
    precision: true,
    hd95_mm: true,
    hd_max_mm: true,
    hd95_ref_to_test_mm: true,
    hd95_test_to_ref_mm: true,
    hd95_pooled_mm: true,
    hd95_directed_mean_mm: true,
    hd95_voxel_centre_mm: true,
    msd_ref_to_test_mm: true,
    msd_test_to_ref_mm: true,
    msd_mean_mm: true,
    assd_mm: true,
    surface_area_ref_mm2: false,
    surface_area_test_mm2: false,
    surface_dice: false,
    apl_pixel_mm: false,
    apl_contour_mm: false,
    apl_slices: true,
    centroid_shift_mm: true,
    centroid_shift_lps_mm: true,
    cranial_extent_error_mm: true,
    caudal_extent_error_mm: true,
    computed_at: false,
    dose_delta: true,
  },
  job_outcome: {
    id: false,
    evaluation_run_id: false,
    case_id: false,
    status: false,
    attempts: false,
    error_code: true,
    error_message: true,
    worker_id: true,
    started_at: false,
    finished_at: false,
    duration_ms: false,
  },
  editing_session: {
    id: false,
    observer_id: false,
    case_id: false,
    structure_id: true,
    from_set_id: true,
    to_set_id: true,
    started_at: false,
    ended_at: false,
    active_seconds: false,
    mode: false,
    tool: true,
    created_at: false,
  },
  review: {
    id: false,
    contour_set_id: false,
    structure_id: false,
    reviewer_id: false,
    grade: false,
    comment: false,
    created_at: false,
  },
  alarm: {
    id: false,
    series_key: false,
    rule: false,
    metric_name: false,
    model_version_id: true,
    site_id: true,
    structure_id: true,
    point_at: false,
    value: true,
    details: false,
    raised_at: false,
    acknowledged_at: true,
    acknowledged_by: true,
    acknowledgement_note: true,
  },
  worker_pool: {
    pool_id: false,
    queue: true,
    hostname: false,
    pid: false,
    concurrency: false,
    worker_ids: false,
    version: false,
    started_at: false,
    last_seen_at: false,
  },
  health_ping: { nonce: false, requested_at: false, completed_at: true, worker_id: true, hostname: true },
  uid_map: { site_id: false, pseudonymous_uid: false, original_uid: false },
  consensus_rater: {
    consensus_set_id: false,
    structure_id: false,
    rater_set_id: false,
    sensitivity: false,
    specificity: false,
    prior: false,
    iterations: false,
    converged: false,
    computed_at: false,
  },
  acceptance_criterion: {
    id: false,
    criteria_set: false,
    structure_id: true,
    metric: false,
    comparator: false,
    threshold: false,
    min_pass_rate: false,
    note: false,
    created_at: false,
    created_by: true,
  },
  analytics_version: { singleton: false, version: false, changed_at: false },
  dose_grid: {
    id: false,
    case_id: false,
    image_series_id: false,
    sop_instance_uid: false,
    dim_x: false,
    dim_y: false,
    dim_z: false,
    spacing_x_mm: false,
    spacing_y_mm: false,
    spacing_z_mm: false,
    origin_lps_mm: false,
    direction_lps: false,
    dose_blob_sha256: false,
    dose_type: false,
    summation_type: false,
    max_gy: false,
    prescription_gy: true,
    fractions: true,
    created_at: false,
  },
  dose_metric: {
    id: false,
    dose_grid_id: false,
    contour_set_id: false,
    structure_id: false,
    mask_blob_sha256: false,
    definition_version: false,
    volume_cc: false,
    outside_dose_cc: false,
    metric_values: false,
    dvh_bin_width_gy: false,
    dvh_cumulative_pct: false,
    computed_at: false,
  },
} as const satisfies { [T in keyof Database]: Nullability<Database[T]> };

/** true where a column's selected type admits null: ties schemaColumns to the interfaces at compile time. */
type Nullability<T> = { [C in keyof Selectable<T>]-?: null extends Selectable<T>[C] ? true : false };

export type Row<T extends keyof Database> = Selectable<Database[T]>;
export type NewRow<T extends keyof Database> = Insertable<Database[T]>;
export type RowUpdate<T extends keyof Database> = Updateable<Database[T]>;
