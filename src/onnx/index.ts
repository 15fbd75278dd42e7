/**
 * ONNX bytes <-> IR: readModel/loadModel decode a ModelProto (zero-copy for aligned raw_data weights),
 * writeModel/saveModel encode one, readTensorProto/writeTensorProto handle a lone TensorProto (ONNX test data).
 */
export { readModel, loadModel, readTensorProto, type ReadModelOptions, type NamedTensor } from './import.js';
export {
  writeModel,
  writeModelWithExternalData,
  saveModel,
  writeTensorProto,
  type ExternalDataOptions,
  type ModelWithExternalData,
} from './export.js';
