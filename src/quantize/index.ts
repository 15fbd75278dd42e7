/**
 * Post-training int8 quantization: calibrate a float model, choose activation ranges (minmax, percentile,
 * entropy, mse), write a QDQ model (per-channel symmetric int8 weights, asymmetric activations), rank layers by
 * sensitivity and keep the worst in fp32 under an accuracy budget. See quantize-model.ts for the steps.
 */
export {
  CALIBRATION_METHODS,
  ACTIVATION_TYPES,
  type CalibrationMethod,
  type ActivationType,
  type QParams,
  type Range,
  computeRange,
  qparamsFor,
  parseMethod,
} from './ranges.js';
export { TensorObserver, HISTOGRAM_BINS } from './observers.js';
export { calibrate, progressBar, type Progress, type TensorCollector } from './calibrate.js';
export { findLayers, type Layer } from './layers.js';
export {
  type Calibration,
  type LayerReport,
  type QuantizeOptions,
  type QuantizeResult,
  buildQdqModel,
  calibrateModel,
  prepareFloatModel,
  quantizeModel,
  quantizeWeight,
} from './quantize-model.js';
export {
  type Runner,
  type RunnerFactory,
  type LabelledSet,
  type Top1,
  type Agreement,
  agreement,
  evaluateTop1,
  referenceRunner,
} from './evaluate.js';
export {
  type SensitivityRow,
  type MixedPrecisionResult,
  type MixedPrecisionOrder,
  type MixedPrecisionOptions,
  type MixedPrecisionSearch,
  MIXED_PRECISION_ORDERS,
  fitAccuracyBudget,
  fitCosineBudget,
  layerSensitivity,
} from './sensitivity.js';
export { type BiasCorrectionOptions, empiricalBiasCorrection } from './bias-correction.js';
export { formatLayerTable, formatSensitivityTable, formatMixedPrecision, formatMixedSearches } from './report.js';
export { readQdqParams, type TensorQuantParams } from './qdq-import.js';
export { QOPERATOR_REWRITTEN, type QOperatorRewrite, qoperatorToQdq } from './qoperator.js';
export { type QOperatorExport, qdqToQOperator } from './qoperator-export.js';
