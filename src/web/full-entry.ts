/**
 * The full browser bundle (dist/web/edgecnn.bundle.js): ONNX import, optimizer, compiler and runtime, so a
 * page compiles a model on the user's device (`createSession(bytes, { threads })`) and can save the result as
 * an artifact for the runtime-only bundle. Node-only modules (node:fs in `loadModel`) are shimmed at bundle
 * time (scripts/build-web.mjs): pass bytes, not paths.
 */
export { readModel } from '../onnx/index.js';
export { optimize } from '../passes/index.js';
export { createSession, type Session, type SessionOptions } from '../runtime/session.js';
export { makeTensor } from '../ir/tensor.js';
export { EdgecnnError } from '../ir/errors.js';
export { encodeArtifact } from './artifact.js';
export * from './runtime-entry.js';
