/**
 * ONNX bytes -> IR. Decodes ModelProto with the bounds-checked ProtoReader; every error names the field path.
 * Zero-copy: a raw_data tensor whose bytes sit at an offset aligned to its element size becomes a typed-array
 * view on the input buffer (so the input must not be modified afterwards); unaligned data is copied.
 * Typed data fields follow the ONNX spec: int32_data also holds int8/uint8/int16/uint16/bool/float16 (bits),
 * uint64_data holds uint32/uint64. External data is resolved through options.loadExternal or options.baseDir.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { type DType, type TensorData, DTYPE_SIZE_BYTES, dtypeFromOnnxCode } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Attribute, Dim, Graph, Model, Node, OpsetImport, ValueInfo } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { HOST_LITTLE_ENDIAN, ProtoReader, TYPED_ARRAY_OF, WIRE_I32, WIRE_LEN, WIRE_VARINT } from './protobuf.js';

/** Options of readModel. */
export interface ReadModelOptions {
  /** Folder that external data locations are relative to (loadModel sets it to the model's folder). */
  baseDir?: string;
  /** Returns the bytes of an external data file, given its `location` as written in the model. */
  loadExternal?: (location: string) => Uint8Array;
}

/** A tensor with the name it had in its TensorProto. */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** Deepest nesting of subgraphs accepted (If/Loop bodies); corrupt input could otherwise recurse without end. */
const MAX_GRAPH_DEPTH = 32;

/** ONNX element types edgecnn does not support, for error messages. */
const UNSUPPORTED_TYPE_NAMES: Record<number, string> = {
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

interface Ctx {
  options: ReadModelOptions;
  externalFiles: Map<string, Uint8Array>;
}

function sub(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function badModel(msg: string): EdgecnnError {
  return new EdgecnnError(msg, 'bad-model');
}

/**
 * Decode an ONNX model (a serialized ModelProto).
 * @throws EdgecnnError 'bad-model' for corrupt/truncated/unsupported content, 'missing-file' for absent
 * external data files.
 */
export function readModel(bytes: Uint8Array, options: ReadModelOptions = {}): Model {
  const ctx: Ctx = { options, externalFiles: new Map() };
  const r = ProtoReader.of(bytes, '');
  const model: Model = {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadata: new Map(),
    graph: undefined as unknown as Graph,
  };
  let graph: Graph | undefined;
  let nMeta = 0;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_VARINT, 'ir_version');
        model.irVersion = r.int64();
        break;
      case 2:
        r.expect(WIRE_LEN, 'producer_name');
        model.producerName = r.string('producer_name');
        break;
      case 3:
        r.expect(WIRE_LEN, 'producer_version');
        model.producerVersion = r.string('producer_version');
        break;
      case 4:
        r.expect(WIRE_LEN, 'domain');
        model.domain = r.string('domain');
        break;
      case 5:
        r.expect(WIRE_VARINT, 'model_version');
        model.modelVersion = r.int64();
        break;
      case 6:
        r.expect(WIRE_LEN, 'doc_string');
        model.docString = r.string('doc_string');
        break;
      case 7:
        r.expect(WIRE_LEN, 'graph');
        graph = readGraph(r.message('graph'), ctx, 0);
        break;
      case 8:
        r.expect(WIRE_LEN, 'opset_import');
        model.opsetImports.push(readOpset(r.message(`opset_import[${model.opsetImports.length}]`)));
        break;
      case 14: {
        r.expect(WIRE_LEN, 'metadata_props');
        const [k, v] = readStringEntry(r.message(`metadata_props[${nMeta++}]`));
        model.metadata.set(k, v);
        break;
      }
      case 25:
        throw r.error('model-local functions (ModelProto.functions) are not supported');
      default:
        r.skip(); // training_info and fields newer than this reader
    }
  }
  if (graph === undefined) throw badModel('model has no graph (ModelProto.graph is missing)');
  // Required since IR v3; without it operator semantics are undefined (and a truncated file can end here).
  if (model.opsetImports.length === 0 && model.irVersion >= 3) throw badModel('model has no opset_import');
  model.graph = graph;
  return model;
}

/**
 * Read an ONNX model file; external data is resolved relative to the model's folder.
 * @throws EdgecnnError 'missing-file' when the model or an external data file is missing.
 */
export async function loadModel(path: string, options: Omit<ReadModelOptions, 'baseDir'> = {}): Promise<Model> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new EdgecnnError(`cannot read model file '${path}': ${(e as Error).message}`, 'missing-file');
  }
  return readModel(bytes, { ...options, baseDir: dirname(path) });
}

/** Decode a serialized onnx.TensorProto (the format of ONNX test data `input_0.pb`). */
export function readTensorProto(bytes: Uint8Array, options: ReadModelOptions = {}): NamedTensor {
  return readTensor(ProtoReader.of(bytes, 'tensor'), { options, externalFiles: new Map() });
}

function readOpset(r: ProtoReader): OpsetImport {
  const o: OpsetImport = { domain: '', version: 0 };
  while (r.next()) {
    if (r.field === 1) {
      r.expect(WIRE_LEN, 'domain');
      o.domain = r.string('domain');
    } else if (r.field === 2) {
      r.expect(WIRE_VARINT, 'version');
      o.version = r.int64();
    } else r.skip();
  }
  return o;
}

function readStringEntry(r: ProtoReader): [string, string] {
  let k = '';
  let v = '';
  while (r.next()) {
    if (r.field === 1) {
      r.expect(WIRE_LEN, 'key');
      k = r.string('key');
    } else if (r.field === 2) {
      r.expect(WIRE_LEN, 'value');
      v = r.string('value');
    } else r.skip();
  }
  return [k, v];
}

function readGraph(r: ProtoReader, ctx: Ctx, depth: number): Graph {
  if (depth > MAX_GRAPH_DEPTH) throw r.error(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH} levels`);
  const p = r.path;
  const g: Graph = {
    name: '',
    nodes: [],
    inputs: [],
    outputs: [],
    initializers: new Map(),
    valueInfo: new Map(),
  };
  let nInit = 0;
  let nVi = 0;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, 'node');
        g.nodes.push(readNode(r.message(sub(p, `node[${g.nodes.length}]`)), ctx, depth));
        break;
      case 2:
        r.expect(WIRE_LEN, 'name');
        g.name = r.string('name');
        break;
      case 5: {
        r.expect(WIRE_LEN, 'initializer');
        const ip = sub(p, `initializer[${nInit++}]`);
        const { name, tensor } = readTensor(r.message(ip), ctx);
        if (name === '') throw badModel(`${ip}: initializer has no name`);
        if (g.initializers.has(name)) throw badModel(`${ip}: duplicate initializer '${name}'`);
        g.initializers.set(name, tensor);
        break;
      }
      case 10:
        r.expect(WIRE_LEN, 'doc_string');
        g.docString = r.string('doc_string');
        break;
      case 11:
      case 12: {
        const list = r.field === 11 ? g.inputs : g.outputs;
        const what = r.field === 11 ? 'input' : 'output';
        r.expect(WIRE_LEN, what);
        const vp = sub(p, `${what}[${list.length}]`);
        const vi = readValueInfo(r.message(vp));
        if (vi === undefined)
          throw badModel(
            `${vp}: graph ${what}s of non-tensor types (sequence, map, optional, sparse) are not supported`,
          );
        list.push(vi);
        break;
      }
      case 13: {
        r.expect(WIRE_LEN, 'value_info');
        // value_info is only a hint: entries of non-tensor types are dropped rather than failing the model.
        const vi = readValueInfo(r.message(sub(p, `value_info[${nVi++}]`)));
        if (vi !== undefined) g.valueInfo.set(vi.name, vi);
        break;
      }
      case 15:
        throw r.error('sparse_initializer is not supported (store the weight densely)');
      default:
        r.skip(); // quantization_annotation, metadata_props
    }
  }
  return g;
}

function readNode(r: ProtoReader, ctx: Ctx, depth: number): Node {
  const n: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  let nAttr = 0;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, 'input');
        n.inputs.push(r.string('input'));
        break;
      case 2:
        r.expect(WIRE_LEN, 'output');
        n.outputs.push(r.string('output'));
        break;
      case 3:
        r.expect(WIRE_LEN, 'name');
        n.name = r.string('name');
        break;
      case 4:
        r.expect(WIRE_LEN, 'op_type');
        n.opType = r.string('op_type');
        break;
      case 5: {
        r.expect(WIRE_LEN, 'attribute');
        const ap = sub(r.path, `attribute[${nAttr++}]`);
        const [name, a] = readAttribute(r.message(ap), ctx, depth);
        if (n.attributes.has(name)) throw badModel(`${ap}: duplicate attribute '${name}'`);
        n.attributes.set(name, a);
        break;
      }
      case 6:
        r.expect(WIRE_LEN, 'doc_string');
        n.docString = r.string('doc_string');
        break;
      case 7:
        r.expect(WIRE_LEN, 'domain');
        n.domain = r.string('domain');
        break;
      default:
        r.skip(); // overload, metadata_props
    }
  }
  if (n.opType === '') throw r.error(`node '${n.name}' has no op_type`);
  return n;
}

/** AttributeProto.AttributeType codes for the kinds the IR holds. */
const ATTR_KIND_BY_CODE: Record<number, Attribute['kind']> = {
  1: 'float',
  2: 'int',
  3: 'string',
  4: 'tensor',
  5: 'graph',
  6: 'floats',
  7: 'ints',
  8: 'strings',
  9: 'tensors',
  10: 'graphs',
};
const UNSUPPORTED_ATTR_KINDS: Record<number, string> = {
  11: 'sparse_tensor',
  12: 'sparse_tensors',
  13: 'type_proto',
  14: 'type_protos',
};

/** AttributeProto value fields of those kinds, by field number. */
const UNSUPPORTED_ATTR_FIELDS: Record<number, string> = {
  14: 'tp',
  15: 'type_protos',
  22: 'sparse_tensor',
  23: 'sparse_tensors',
};

function readAttribute(r: ProtoReader, ctx: Ctx, depth: number): [string, Attribute] {
  const p = r.path;
  let name = '';
  let type = 0;
  // Value fields seen, in wire order: IR v1 attributes have no `type`, so the first value field gives the kind.
  const seen = new Set<Attribute['kind']>();
  let f = 0;
  let i = 0;
  let s = '';
  let t: Tensor | undefined;
  let g: Graph | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  const tensors: Tensor[] = [];
  const graphs: Graph[] = [];
  let refAttr = '';
  let unsupported = '';
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, 'name');
        name = r.string('name');
        break;
      case 20:
        r.expect(WIRE_VARINT, 'type');
        type = r.int32();
        break;
      case 2:
        r.expect(WIRE_I32, 'f');
        f = r.float32();
        seen.add('float');
        break;
      case 3:
        r.expect(WIRE_VARINT, 'i');
        i = r.int64();
        seen.add('int');
        break;
      case 4:
        r.expect(WIRE_LEN, 's');
        s = r.string('s');
        seen.add('string');
        break;
      case 5:
        r.expect(WIRE_LEN, 't');
        t = readTensor(r.message(sub(p, 't')), ctx).tensor;
        seen.add('tensor');
        break;
      case 6:
        r.expect(WIRE_LEN, 'g');
        g = readGraph(r.message(sub(p, 'g')), ctx, depth + 1);
        seen.add('graph');
        break;
      case 7:
        r.repeatedFloat32('floats', floats);
        seen.add('floats');
        break;
      case 8:
        r.repeatedInt64('ints', ints);
        seen.add('ints');
        break;
      case 9:
        r.expect(WIRE_LEN, 'strings');
        strings.push(r.string('strings'));
        seen.add('strings');
        break;
      case 10:
        r.expect(WIRE_LEN, 'tensors');
        tensors.push(readTensor(r.message(sub(p, `tensors[${tensors.length}]`)), ctx).tensor);
        seen.add('tensors');
        break;
      case 11:
        r.expect(WIRE_LEN, 'graphs');
        graphs.push(readGraph(r.message(sub(p, `graphs[${graphs.length}]`)), ctx, depth + 1));
        seen.add('graphs');
        break;
      case 21:
        r.expect(WIRE_LEN, 'ref_attr_name');
        refAttr = r.string('ref_attr_name');
        break;
      case 14:
      case 15:
      case 22:
      case 23:
        unsupported = UNSUPPORTED_ATTR_FIELDS[r.field]!;
        r.skip();
        break;
      default:
        r.skip(); // doc_string
    }
  }
  const label = `${p} ('${name}')`;
  if (name === '') throw badModel(`${p}: attribute has no name`);
  if (refAttr !== '') throw badModel(`${label}: ref_attr_name is only valid inside functions, which are not supported`);
  if (UNSUPPORTED_ATTR_KINDS[type] !== undefined || (type === 0 && unsupported !== '')) {
    throw badModel(`${label}: attributes of kind ${UNSUPPORTED_ATTR_KINDS[type] ?? unsupported} are not supported`);
  }
  let kind: Attribute['kind'] | undefined;
  if (type !== 0) {
    kind = ATTR_KIND_BY_CODE[type];
    if (kind === undefined) throw badModel(`${label}: unknown attribute type ${type}`);
  } else {
    kind = [...seen][0];
    if (kind === undefined) throw badModel(`${label}: attribute has neither a type nor a value`);
  }
  switch (kind) {
    case 'float':
      return [name, { kind, value: f }];
    case 'int':
      return [name, { kind, value: i }];
    case 'string':
      return [name, { kind, value: s }];
    case 'tensor':
      if (t === undefined) throw badModel(`${label}: TENSOR attribute has no tensor (field t)`);
      return [name, { kind, value: t }];
    case 'graph':
      if (g === undefined) throw badModel(`${label}: GRAPH attribute has no graph (field g)`);
      return [name, { kind, value: g }];
    case 'floats':
      return [name, { kind, value: floats }];
    case 'ints':
      return [name, { kind, value: ints }];
    case 'strings':
      return [name, { kind, value: strings }];
    case 'tensors':
      return [name, { kind, value: tensors }];
    case 'graphs':
      return [name, { kind, value: graphs }];
  }
}

function elemTypeError(where: string, code: number): EdgecnnError {
  const n = UNSUPPORTED_TYPE_NAMES[code];
  return badModel(
    n !== undefined
      ? `${where}: element type ${n} (${code}) is not supported`
      : `${where}: unknown element type ${code}`,
  );
}

/** undefined when the value has a non-tensor type (sequence, map, optional, sparse). */
function readValueInfo(r: ProtoReader): ValueInfo | undefined {
  const vi: ValueInfo = { name: '' };
  let nonTensor = false;
  let elemType = 0;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, 'name');
        vi.name = r.string('name');
        break;
      case 2: {
        r.expect(WIRE_LEN, 'type');
        const tr = r.message(sub(r.path, 'type'));
        while (tr.next()) {
          if (tr.field === 1) {
            tr.expect(WIRE_LEN, 'tensor_type');
            const tt = tr.message(sub(tr.path, 'tensor_type'));
            while (tt.next()) {
              if (tt.field === 1) {
                tt.expect(WIRE_VARINT, 'elem_type');
                elemType = tt.int32();
              } else if (tt.field === 2) {
                tt.expect(WIRE_LEN, 'shape');
                vi.shape = readShape(tt.message(sub(tt.path, 'shape')));
              } else tt.skip();
            }
          } else if (tr.field === 4 || tr.field === 5 || tr.field === 8 || tr.field === 9) {
            nonTensor = true;
            tr.skip();
          } else tr.skip(); // denotation
        }
        break;
      }
      case 3:
        r.expect(WIRE_LEN, 'doc_string');
        vi.docString = r.string('doc_string');
        break;
      default:
        r.skip();
    }
  }
  if (nonTensor) return undefined;
  if (elemType !== 0) {
    const dt = dtypeFromOnnxCode(elemType);
    if (dt === undefined) throw elemTypeError(`${r.path} ('${vi.name}')`, elemType);
    vi.dtype = dt;
  }
  return vi;
}

function readShape(r: ProtoReader): Dim[] {
  const dims: Dim[] = [];
  while (r.next()) {
    if (r.field !== 1) {
      r.skip();
      continue;
    }
    r.expect(WIRE_LEN, 'dim');
    const d = r.message(sub(r.path, `dim[${dims.length}]`));
    let dim: Dim = null;
    while (d.next()) {
      if (d.field === 1) {
        d.expect(WIRE_VARINT, 'dim_value');
        dim = d.int64();
      } else if (d.field === 2) {
        d.expect(WIRE_LEN, 'dim_param');
        dim = d.string('dim_param');
      } else d.skip(); // denotation
    }
    dims.push(dim);
  }
  return dims;
}

/** Largest element count accepted for one tensor; corrupt dims must not lead to absurd allocations. */
const MAX_ELEMENTS = 2 ** 32;

function readTensor(r: ProtoReader, ctx: Ctx): NamedTensor {
  const p = r.path;
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  let floatData: number[] | undefined;
  let int32Data: number[] | undefined;
  let stringData: string[] | undefined;
  let int64Data: bigint[] | undefined;
  let doubleData: number[] | undefined;
  let uint64Data: bigint[] | undefined;
  const external = new Map<string, string>();
  let dataLocation = 0;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.repeatedInt64('dims', dims);
        break;
      case 2:
        r.expect(WIRE_VARINT, 'data_type');
        dataType = r.int32();
        break;
      case 3:
        throw r.error('segmented tensors (TensorProto.segment) are not supported');
      case 4:
        r.repeatedFloat32('float_data', (floatData ??= []));
        break;
      case 5: {
        const out = (int32Data ??= []);
        r.repeatedVarint('int32_data', (q) => out.push(q.int32()));
        break;
      }
      case 6:
        r.expect(WIRE_LEN, 'string_data');
        (stringData ??= []).push(r.string('string_data'));
        break;
      case 7: {
        const out = (int64Data ??= []);
        r.repeatedVarint('int64_data', (q) => out.push(q.int64Big()));
        break;
      }
      case 8:
        r.expect(WIRE_LEN, 'name');
        name = r.string('name');
        break;
      case 9:
        r.expect(WIRE_LEN, 'raw_data');
        raw = r.bytesView('raw_data');
        break;
      case 10:
        r.repeatedFloat64('double_data', (doubleData ??= []));
        break;
      case 11: {
        const out = (uint64Data ??= []);
        r.repeatedVarint('uint64_data', (q) => out.push(q.uint64Big()));
        break;
      }
      case 13: {
        r.expect(WIRE_LEN, 'external_data');
        const [k, v] = readStringEntry(r.message(sub(p, `external_data[${external.size}]`)));
        external.set(k, v);
        break;
      }
      case 14:
        r.expect(WIRE_VARINT, 'data_location');
        dataLocation = r.int32();
        break;
      default:
        r.skip(); // doc_string, metadata_props
    }
  }
  const label = `${p} '${name}'`;
  const dtype = dtypeFromOnnxCode(dataType);
  if (dtype === undefined) {
    if (dataType === 0) throw badModel(`${label}: tensor has no data_type`);
    throw elemTypeError(`tensor ${label}`, dataType);
  }
  let n = 1;
  for (const d of dims) {
    if (!(d >= 0) || !Number.isSafeInteger(d))
      throw badModel(`${label}: invalid dimension ${d} in [${dims.join(',')}]`);
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw badModel(`${label}: shape [${dims.join(',')}] has too many elements (${n})`);
  const shape = dims;
  const make = (data: TensorData): NamedTensor => ({ name, tensor: { dtype, shape, data } });

  if (dataLocation === 1) {
    if (dtype === 'string') throw badModel(`${label}: string tensors cannot use external data`);
    const bytes = readExternal(label, name, external, ctx);
    checkRawLength(label, bytes.length, n, dtype);
    return make(viewRaw(dtype, bytes, n));
  } else if (dataLocation !== 0) {
    throw badModel(`${label}: unknown data_location ${dataLocation}`);
  }
  if (raw !== undefined) {
    if (dtype === 'string') throw badModel(`${label}: string tensors cannot use raw_data`);
    checkRawLength(label, raw.length, n, dtype);
    return make(viewRaw(dtype, raw, n));
  }
  const typed = (count: number, field: string): void => {
    if (count !== n) {
      throw badModel(`${label}: ${field} has ${count} values but shape [${dims.join(',')}] needs ${n}`);
    }
  };
  switch (dtype) {
    case 'float32':
      typed(floatData?.length ?? 0, 'float_data');
      return make(Float32Array.from(floatData ?? []));
    case 'float64':
      typed(doubleData?.length ?? 0, 'double_data');
      return make(Float64Array.from(doubleData ?? []));
    case 'int64':
      typed(int64Data?.length ?? 0, 'int64_data');
      return make(BigInt64Array.from(int64Data ?? []));
    case 'uint64':
      typed(uint64Data?.length ?? 0, 'uint64_data');
      return make(BigUint64Array.from(uint64Data ?? []));
    case 'uint32': {
      typed(uint64Data?.length ?? 0, 'uint64_data');
      const a = new Uint32Array(n);
      for (let k = 0; k < n; k++) a[k] = Number(BigInt.asUintN(32, uint64Data![k]!));
      return make(a);
    }
    case 'string':
      typed(stringData?.length ?? 0, 'string_data');
      return make(stringData ?? []);
    case 'int32':
      typed(int32Data?.length ?? 0, 'int32_data');
      return make(Int32Array.from(int32Data ?? []));
    case 'int8':
      typed(int32Data?.length ?? 0, 'int32_data');
      return make(Int8Array.from(int32Data ?? []));
    case 'uint8':
    case 'bool':
      typed(int32Data?.length ?? 0, 'int32_data');
      return make(Uint8Array.from(int32Data ?? []));
    case 'int16':
      typed(int32Data?.length ?? 0, 'int32_data');
      return make(Int16Array.from(int32Data ?? []));
    case 'uint16':
    case 'float16':
      typed(int32Data?.length ?? 0, 'int32_data');
      return make(Uint16Array.from(int32Data ?? []));
  }
}

function checkRawLength(label: string, len: number, n: number, dtype: DType): void {
  const want = n * DTYPE_SIZE_BYTES[dtype];
  if (len !== want) throw badModel(`${label}: data has ${len} bytes but ${dtype} shape needs ${want}`);
}

/** Little-endian bytes as a typed array: a view when aligned (zero-copy), else a copy. */
function viewRaw(dtype: Exclude<DType, 'string'>, raw: Uint8Array, n: number): TensorData {
  const C = TYPED_ARRAY_OF[dtype];
  const w = C.BYTES_PER_ELEMENT;
  if (HOST_LITTLE_ENDIAN && raw.byteOffset % w === 0) return new C(raw.buffer, raw.byteOffset, n);
  // ArrayBuffer.slice is one memcpy (raw.slice() would be a view when raw is a Node Buffer).
  const copy = new Uint8Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  if (!HOST_LITTLE_ENDIAN && w > 1) {
    for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
  }
  return new C(copy.buffer, 0, n);
}

function readExternal(label: string, name: string, entries: Map<string, string>, ctx: Ctx): Uint8Array {
  const location = entries.get('location');
  if (location === undefined || location === '') throw badModel(`${label}: external data has no location`);
  // As the ONNX checker does: data must stay inside the model's folder.
  if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
    throw badModel(`${label}: external data location '${location}' must be a relative path inside the model's folder`);
  }
  let file = ctx.externalFiles.get(location);
  if (file === undefined) {
    const { loadExternal, baseDir } = ctx.options;
    if (loadExternal !== undefined) {
      file = loadExternal(location);
    } else if (baseDir !== undefined) {
      const path = join(baseDir, location);
      try {
        file = readFileSync(path);
      } catch (e) {
        throw new EdgecnnError(
          `tensor '${name}': cannot read its external data file '${path}': ${(e as Error).message}`,
          'missing-file',
        );
      }
    } else {
      throw new EdgecnnError(
        `tensor '${name}' keeps its data in external file '${location}', but no baseDir or loadExternal was given (use loadModel(path))`,
        'missing-file',
      );
    }
    ctx.externalFiles.set(location, file);
  }
  const parseNum = (key: string, dflt: number): number => {
    const s = entries.get(key);
    if (s === undefined) return dflt;
    if (!/^\d+$/.test(s)) throw badModel(`${label}: external data ${key} '${s}' is not a non-negative integer`);
    return Number(s);
  };
  const offset = parseNum('offset', 0);
  const length = parseNum('length', file.length - offset);
  if (offset + length > file.length || length < 0) {
    throw badModel(
      `${label}: external data [${offset}, ${offset + length}) runs past the end of '${location}' (${file.length} bytes)`,
    );
  }
  return file.subarray(offset, offset + length);
}
