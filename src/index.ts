/** The edgecnn library API. */
export * from './ir/index.js';
export * from './onnx/index.js';
export { getOp, allOps, CLAIMED_OPS } from './ops/registry.js';
export type { OpDef, OpContext, ValueType } from './ops/types.js';
export { runReference, unsupportedNodes } from './ops/reference-executor.js';
export { inferModelTypes } from './ops/infer-types.js';
export { summarizeModel, type ModelSummary } from './ops/model-summary.js';
export { optimize } from './passes/index.js';
export { createSession, type Session, type SessionOptions, BACKENDS, type Backend } from './runtime/session.js';
export {
  quantizeModel,
  calibrateModel,
  buildQdqModel,
  layerSensitivity,
  fitAccuracyBudget,
  readQdqParams,
} from './quantize/index.js';
