/**
 * IR -> ONNX bytes. Field numbers follow onnx.proto3; fields are written in field-number order, defaults
 * (empty strings, zero versions) omitted except where zero is meaningful (dim_value 0, attribute values).
 * Tensors are written as little-endian raw_data (strings as string_data); weights are referenced by the
 * writer and copied once into the output. With external data, initializers of at least `thresholdBytes`
 * go to one side file at 64-byte aligned offsets, so that reading them back stays zero-copy.
 */
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ONNX_DTYPE_CODE } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Attribute, Graph, Model, Node, ValueInfo } from '../ir/graph.js';
import { type Tensor, sizeOf } from '../ir/tensor.js';
import { ProtoWriter, TYPED_ARRAY_OF, encodeUtf8, littleEndianBytes } from './protobuf.js';

/** Where and from what size initializers go to an external data file. */
export interface ExternalDataOptions {
  /** File name written into the model, relative to the model's folder (e.g. "model.onnx.data"). */
  location: string;
  /** Initializers with at least this many bytes go to the side file (default 1024). */
  thresholdBytes?: number;
}

/** Output of writeModelWithExternalData: the model bytes and the side file's bytes. */
export interface ModelWithExternalData {
  model: Uint8Array;
  external: Uint8Array;
}

const EXTERNAL_ALIGN_BYTES = 64;

/** Collects external tensor bytes while the model is written. */
class ExternalSink {
  chunks: Uint8Array[] = [];
  size = 0;
  constructor(
    readonly location: string,
    readonly thresholdBytes: number,
  ) {}

  /** Appends data at an aligned offset; returns the offset. */
  add(data: Uint8Array): number {
    const pad = (EXTERNAL_ALIGN_BYTES - (this.size % EXTERNAL_ALIGN_BYTES)) % EXTERNAL_ALIGN_BYTES;
    if (pad > 0) {
      this.chunks.push(new Uint8Array(pad));
      this.size += pad;
    }
    const offset = this.size;
    this.chunks.push(data);
    this.size += data.length;
    return offset;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** Encode a model as a serialized ONNX ModelProto, every tensor inline. */
export function writeModel(model: Model): Uint8Array {
  return encodeModel(model, undefined).finish();
}

/** Encode a model with large initializers in a separate external data file (returned, not written). */
export function writeModelWithExternalData(model: Model, options: ExternalDataOptions): ModelWithExternalData {
  if (options.location === '' || options.location.split(/[\\/]/).includes('..')) {
    throw new EdgecnnError(`external data location '${options.location}' must be a relative file name`, 'bad-argument');
  }
  const sink = new ExternalSink(options.location, options.thresholdBytes ?? 1024);
  const bytes = encodeModel(model, sink).finish();
  return { model: bytes, external: sink.finish() };
}

/**
 * Write a model file. With `externalData`, large initializers go to `externalData.location` (default:
 * "<model file name>.data") in the same folder.
 */
export async function saveModel(
  model: Model,
  path: string,
  options: { externalData?: Partial<ExternalDataOptions> } = {},
): Promise<void> {
  if (options.externalData === undefined) {
    await writeFile(path, writeModel(model));
    return;
  }
  const location = options.externalData.location ?? `${basename(path)}.data`;
  const out = writeModelWithExternalData(model, { ...options.externalData, location });
  await writeFile(join(dirname(path), location), out.external);
  await writeFile(path, out.model);
}

/** Encode one tensor as a serialized onnx.TensorProto. */
export function writeTensorProto(tensor: Tensor, name = ''): Uint8Array {
  return encodeTensor(tensor, name, undefined, 'tensor').finish();
}

function encodeModel(model: Model, sink: ExternalSink | undefined): ProtoWriter {
  const w = new ProtoWriter();
  w.int64(1, model.irVersion);
  if (model.producerName !== '') w.string(2, model.producerName);
  if (model.producerVersion !== '') w.string(3, model.producerVersion);
  if (model.domain !== '') w.string(4, model.domain);
  if (model.modelVersion !== 0) w.int64(5, model.modelVersion);
  if (model.docString !== '') w.string(6, model.docString);
  w.message(7, encodeGraph(model.graph, sink, 'graph'));
  for (const o of model.opsetImports) {
    const ow = new ProtoWriter();
    if (o.domain !== '') ow.string(1, o.domain);
    ow.int64(2, o.version);
    w.message(8, ow);
  }
  for (const [k, v] of model.metadata) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w;
}

function encodeGraph(g: Graph, sink: ExternalSink | undefined, path: string): ProtoWriter {
  const w = new ProtoWriter();
  g.nodes.forEach((n, i) => w.message(1, encodeNode(n, sink, `${path}.node[${i}]`)));
  if (g.name !== '') w.string(2, g.name);
  for (const [name, t] of g.initializers) w.message(5, encodeTensor(t, name, sink, `${path}.initializer '${name}'`));
  if (g.docString !== undefined && g.docString !== '') w.string(10, g.docString);
  for (const vi of g.inputs) w.message(11, encodeValueInfo(vi));
  for (const vi of g.outputs) w.message(12, encodeValueInfo(vi));
  for (const vi of g.valueInfo.values()) w.message(13, encodeValueInfo(vi));
  return w;
}

function encodeNode(n: Node, sink: ExternalSink | undefined, path: string): ProtoWriter {
  const w = new ProtoWriter();
  for (const s of n.inputs) w.string(1, s);
  for (const s of n.outputs) w.string(2, s);
  if (n.name !== '') w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of n.attributes) w.message(5, encodeAttribute(name, a, sink, `${path}.attribute '${name}'`));
  if (n.docString !== undefined && n.docString !== '') w.string(6, n.docString);
  if (n.domain !== '') w.string(7, n.domain);
  return w;
}

/** AttributeProto.AttributeType code per kind. */
const ATTR_CODE: Record<Attribute['kind'], number> = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
  tensors: 9,
  graphs: 10,
};

function encodeAttribute(name: string, a: Attribute, sink: ExternalSink | undefined, path: string): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  // Attribute tensors (Constant nodes) stay inline: not every runtime resolves external data outside initializers.
  switch (a.kind) {
    case 'float':
      w.float32(2, a.value);
      break;
    case 'int':
      w.int64(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value, '', undefined, `${path}.t`));
      break;
    case 'graph':
      w.message(6, encodeGraph(a.value, sink, `${path}.g`));
      break;
    case 'floats':
      w.packedFloat32(7, a.value);
      break;
    case 'ints':
      w.packedInt64(8, a.value);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      break;
    case 'tensors':
      a.value.forEach((t, i) => w.message(10, encodeTensor(t, '', undefined, `${path}.tensors[${i}]`)));
      break;
    case 'graphs':
      a.value.forEach((g, i) => w.message(11, encodeGraph(g, sink, `${path}.graphs[${i}]`)));
      break;
  }
  w.int32(20, ATTR_CODE[a.kind]);
  return w;
}

function encodeValueInfo(vi: ValueInfo): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, vi.name);
  // No type at all when nothing is known, as in the source model; an empty tensor_type would claim more.
  if (vi.dtype !== undefined || vi.shape !== undefined) {
    const tt = new ProtoWriter();
    if (vi.dtype !== undefined) tt.int32(1, ONNX_DTYPE_CODE[vi.dtype]);
    if (vi.shape !== undefined) {
      const sw = new ProtoWriter();
      for (const d of vi.shape) {
        const dw = new ProtoWriter();
        if (typeof d === 'number') dw.int64(1, d);
        else if (typeof d === 'string') dw.string(2, d);
        sw.message(1, dw);
      }
      tt.message(2, sw);
    }
    w.message(2, new ProtoWriter().message(1, tt));
  }
  if (vi.docString !== undefined && vi.docString !== '') w.string(3, vi.docString);
  return w;
}

function encodeTensor(t: Tensor, name: string, sink: ExternalSink | undefined, path: string): ProtoWriter {
  const n = sizeOf(t.shape);
  if (t.data.length !== n) {
    throw new EdgecnnError(
      `${path}: tensor data has ${t.data.length} elements but shape [${t.shape.join(',')}] needs ${n}`,
      'bad-model',
    );
  }
  checkArrayType(t, path);
  const w = new ProtoWriter();
  w.packedInt64(1, t.shape as number[]);
  w.int32(2, ONNX_DTYPE_CODE[t.dtype]);
  if (t.dtype === 'string') {
    for (const s of t.data as string[]) w.bytes(6, encodeUtf8(s));
    if (name !== '') w.string(8, name);
    return w;
  }
  if (name !== '') w.string(8, name);
  const bytes = littleEndianBytes(t.data as Exclude<Tensor['data'], string[]>);
  if (sink !== undefined && bytes.length >= sink.thresholdBytes) {
    const offset = sink.add(bytes);
    const entry = (k: string, v: string): ProtoWriter => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, entry('location', sink.location));
    w.message(13, entry('offset', String(offset)));
    w.message(13, entry('length', String(bytes.length)));
    w.int32(14, 1);
  } else {
    w.bytes(9, bytes);
  }
  return w;
}

function checkArrayType(t: Tensor, path: string): void {
  const ok = t.dtype === 'string' ? Array.isArray(t.data) : t.data instanceof TYPED_ARRAY_OF[t.dtype];
  if (!ok) {
    const got = Array.isArray(t.data) ? 'Array' : t.data.constructor.name;
    throw new EdgecnnError(`${path}: ${t.dtype} tensor is held in a ${got}`, 'bad-model');
  }
}
