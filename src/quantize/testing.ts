/**
 * A small seeded float model for quantization tests: stem Conv+Relu, depthwise Conv+Clip(0,6), pointwise Conv,
 * a residual Add, a Concat of two branches, GlobalAveragePool, Flatten and Gemm. Input [N, 3, 12, 12]. It has
 * every pattern the quantizer treats specially (clamp folding, Add and Concat scale groups, pass-throughs).
 */
import { GraphBuilder, randomF32 } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import { f32 } from '../ir/tensor.js';

export function tinyQuantModel(batch: number | string = 1): Model {
  const b = new GraphBuilder('tiny-quant');
  const x = b.input('input', 'float32', [batch, 3, 12, 12]);
  b.randomInit('w0', [8, 3, 3, 3], 1, -0.5, 0.5);
  b.randomInit('b0', [8], 2, -0.1, 0.1);
  const c0 = b.node('Conv', [x, 'w0', 'b0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'stem' });
  const r0 = b.node('Relu', [c0], {}, { name: 'stem_relu' });
  b.randomInit('w1', [8, 1, 3, 3], 3, -0.6, 0.6);
  b.randomInit('b1', [8], 4, -0.1, 0.1);
  const c1 = b.node('Conv', [r0, 'w1', 'b1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 }, { name: 'dw' });
  b.init('lo', f32([], [0]));
  b.init('hi', f32([], [6]));
  const r1 = b.node('Clip', [c1, 'lo', 'hi'], {}, { name: 'dw_relu6' });
  b.randomInit('w2', [8, 8, 1, 1], 5, -0.5, 0.5);
  b.randomInit('b2', [8], 6, -0.1, 0.1);
  const c2 = b.node('Conv', [r1, 'w2', 'b2'], { kernel_shape: [1, 1] }, { name: 'pw' });
  const add = b.node('Add', [r0, c2], {}, { name: 'residual' });
  b.randomInit('w3', [4, 8, 1, 1], 7, -0.5, 0.5);
  const c3 = b.node('Conv', [add, 'w3'], { kernel_shape: [1, 1], strides: [2, 2] }, { name: 'branch_a' });
  const r3 = b.node('Relu', [c3], {}, { name: 'branch_a_relu' });
  const p = b.node('MaxPool', [add], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'branch_b' });
  const cat = b.node('Concat', [r3, p], { axis: 1 }, { name: 'concat' });
  const gap = b.node('GlobalAveragePool', [cat], {}, { name: 'gap' });
  const fl = b.node('Flatten', [gap], { axis: 1 }, { name: 'flatten' });
  b.init('fcw', randomF32([5, 12], 8, -0.5, 0.5));
  b.init('fcb', randomF32([5], 9, -0.1, 0.1));
  b.node('Gemm', [fl, 'fcw', 'fcb'], { transB: 1 }, { name: 'fc', outputs: ['output'] });
  b.output('output', 'float32', [batch, 5]);
  return b.model(13);
}
