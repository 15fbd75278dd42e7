/**
 * onnxruntime-node as the external reference for `check` and `demo`: loaded on demand (it is a dev dependency
 * of edgecnn, optional for users), one intra-op thread, outputs as edgecnn tensors.
 */
import type { DType, TensorData } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';

interface OrtTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}
interface OrtModule {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(
      pathOrBytes: string | Uint8Array,
      opts: object,
    ): Promise<{ run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> }>;
  };
}

const ORT_TYPE: Partial<Record<DType, string>> = {
  float32: 'float32',
  int64: 'int64',
  int32: 'int32',
  uint8: 'uint8',
  int8: 'int8',
  bool: 'bool',
  float64: 'float64',
};

export async function loadOrtNode(): Promise<OrtModule> {
  try {
    return (await import('onnxruntime-node')) as unknown as OrtModule;
  } catch (e) {
    throw new EdgecnnError(
      `onnxruntime-node is not available (${(e as Error).message.split('\n')[0]}); install it with ` +
        `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`,
      'missing-file',
    );
  }
}

/** Run a model file (or bytes) in onnxruntime-node on one thread. */
export async function runOrtNode(
  model: string | Uint8Array,
  inputs: Record<string, Tensor>,
): Promise<Record<string, Tensor>> {
  const ort = await loadOrtNode();
  let session;
  try {
    session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (e) {
    throw new EdgecnnError(`onnxruntime-node could not load the model: ${(e as Error).message}`, 'bad-model');
  }
  const feeds: Record<string, OrtTensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    const type = ORT_TYPE[t.dtype];
    if (!type) throw new EdgecnnError(`cannot pass a ${t.dtype} input to onnxruntime`, 'bad-input');
    feeds[name] = new ort.Tensor(type, t.data, t.shape);
  }
  const out = await session.run(feeds);
  const result: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(out)) {
    const dtype = (Object.entries(ORT_TYPE).find(([, v]) => v === t.type)?.[0] ?? 'float32') as DType;
    result[name] = makeTensor(dtype, [...t.dims], t.data as TensorData);
  }
  return result;
}
