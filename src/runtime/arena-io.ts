/**
 * Moving tensors between JS (row-major NCHW) and the arena (NHWC with a pixel stride, or flat row-major). Used
 * at the graph's edges and around reference fallbacks. The NHWC loops run pixel by pixel with the channel loop
 * innermost on the arena side, so arena accesses are sequential and the JS side strides by H*W.
 */
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import type { ValuePlacement } from './compiled-model.js';

/** Write `t` (row-major) into the arena at `p`. JS-side values are stored in `jsValues`. */
export function writeValue(mem: Float32Array, p: ValuePlacement, t: Tensor, jsValues: Map<string, Tensor>): void {
  if (p.layout === 'js') {
    jsValues.set(p.name, t);
    return;
  }
  if (t.dtype !== 'float32') {
    throw new EdgecnnError(`value '${p.name}' must be float32 to live in the arena, got ${t.dtype}`, 'internal');
  }
  if (sizeOf(t.shape) !== sizeOf(p.shape)) {
    throw new EdgecnnError(
      `value '${p.name}' has shape ${t.shape.join('x')} but was compiled for ${p.shape.join('x')}`,
      'internal',
    );
  }
  const src = t.data as Float32Array;
  const base = p.offsetBytes >>> 2;
  if (p.layout === 'flat') {
    mem.set(src, base);
    return;
  }
  const [N, C, H, W] = p.shape as [number, number, number, number];
  const hw = H * W;
  const ps = p.pixelStride;
  if (hw === 1) {
    // One pixel: NCHW and NHWC coincide, each image is one contiguous run of C channels.
    for (let n = 0; n < N; n++) mem.set(src.subarray(n * C, n * C + C), base + n * ps);
    return;
  }
  for (let n = 0; n < N; n++) {
    const s0 = n * C * hw;
    let d = base + n * hw * ps;
    for (let i = 0; i < hw; i++, d += ps) {
      let s = s0 + i;
      for (let c = 0; c < C; c++, s += hw) mem[d + c] = src[s]!;
    }
  }
}

/** Read the value at `p` into a fresh row-major tensor. */
export function readValue(mem: Float32Array, p: ValuePlacement, jsValues: Map<string, Tensor>): Tensor {
  if (p.layout === 'js') {
    const t = jsValues.get(p.name);
    if (!t) throw new EdgecnnError(`value '${p.name}' was read before it was computed`, 'internal');
    return t;
  }
  const n = sizeOf(p.shape);
  const base = p.offsetBytes >>> 2;
  if (p.layout === 'flat') return makeTensor('float32', p.shape, mem.slice(base, base + n));
  const [N, C, H, W] = p.shape as [number, number, number, number];
  const hw = H * W;
  const ps = p.pixelStride;
  const out = new Float32Array(n);
  for (let b = 0; b < N; b++) {
    const d0 = b * C * hw;
    let s = base + b * hw * ps;
    for (let i = 0; i < hw; i++, s += ps) {
      let d = d0 + i;
      for (let c = 0; c < C; c++, d += hw) out[d] = mem[s + c]!;
    }
  }
  return makeTensor('float32', p.shape, out);
}
