/**
 * The optimization pipeline, in order, for each level. This file is the only list of passes; a pass's position
 * here is its priority (there are no numeric priorities anywhere).
 *   level 0: nothing (the model as read).
 *   level 1: standard-ONNX simplifications: shapes, constants (incl. shape arithmetic), dead code, Identity/Dropout,
 *            CSE, BatchNorm folding, per-channel Mul/Add folding, Pad folding, layout-chain and Gemm-input cleanup.
 *   level 2: level 1 + fusion into edgecnn operators, which the code generator consumes.
 *
 * Fused operators (domain `edgecnn`, version 1; reference implementations in src/ops/fused-ops.ts):
 *   FusedConv(X, W, B?, Residual?) -> Y = activation(Conv(X, W) + B + Residual)
 *     Conv attributes kernel_shape, strides, pads, dilations, group (auto_pad always resolved to explicit pads;
 *     kernel_shape always present); Residual has exactly Y's shape.
 *   FusedGemm(A, B, C?) -> Y = activation(Gemm(A, B, C)), Gemm attributes alpha, beta, transA, transB.
 *   Both: `activation` (string, absent = none): Relu | Clip | LeakyRelu | HardSigmoid | HardSwish | Sigmoid | Silu,
 *   `activation_params` (floats): Clip [min, max] (+-inf when unbounded), LeakyRelu [alpha],
 *   HardSigmoid [alpha, beta]; none for the others.
 *   Silu(X) = X * Sigmoid(X).  HardSwish(X) = X * HardSigmoid(X; 1/6, 1/2), used only when opset < 14.
 */
import { decomposeBatchNormPass } from './decompose-batch-norm.js';
import { eliminateCommonSubexpressionsPass } from './eliminate-common-subexpressions.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { expandFusedNodesPass } from './expand-fused-nodes.js';
import { foldBatchNormPass } from './fold-batch-norm.js';
import { foldConstantsPass } from './fold-constants.js';
import { foldConvMulAddPass } from './fold-conv-mul-add.js';
import { foldPadPass } from './fold-pad.js';
import { fuseConvActivationPass } from './fuse-conv-activation.js';
import { fuseConvResidualPass } from './fuse-conv-residual.js';
import { fuseHardSwishPass } from './fuse-hard-swish.js';
import { fuseSiluPass } from './fuse-silu.js';
import { inferShapesPass } from './infer-shapes.js';
import type { Pass } from './pass.js';
import { removeIdentityPass } from './remove-identity.js';
import { simplifyGemmInputPass } from './simplify-gemm-input.js';
import { simplifyTransposeReshapePass } from './simplify-transpose-reshape.js';
import { substituteHardActivationsPass } from './substitute-hard-activations.js';

export const OPT_LEVELS = [0, 1, 2] as const;
export type OptLevel = (typeof OPT_LEVELS)[number];

/** Options that change which passes a pipeline holds. */
export interface PipelineOptions {
  /** Add the approximate substitute-hard-activations pass (off by default). */
  hardActivations?: boolean;
  /** End with expand-fused-nodes so that only standard ONNX operators remain (for writing a file). */
  forExport?: boolean;
}

/** The passes for an optimization level, in order. Names may repeat (a cleanup pass runs more than once). */
export function pipelineFor(level: OptLevel, options: PipelineOptions = {}): Pass[] {
  if (level === 0) return options.forExport ? [...EXPORT_PASSES] : [];
  const fusing = level >= 2;
  const passes: Pass[] = [
    inferShapesPass,
    foldConstantsPass,
    removeIdentityPass,
    eliminateDeadNodesPass,
    eliminateCommonSubexpressionsPass,
    // Activation patterns are recognized before algebraic folding, which would otherwise fold their scalar
    // constants (HardSwish's `/ 6`) into a neighbouring Conv and break the pattern.
    ...(fusing ? [fuseHardSwishPass, fuseSiluPass] : []),
    foldBatchNormPass,
    decomposeBatchNormPass,
    foldConvMulAddPass,
    foldPadPass,
    simplifyTransposeReshapePass,
    simplifyGemmInputPass,
    foldConstantsPass,
    eliminateDeadNodesPass,
  ];
  if (options.hardActivations) passes.push(substituteHardActivationsPass);
  if (fusing) passes.push(fuseConvResidualPass, fuseConvActivationPass, eliminateDeadNodesPass);
  if (options.forExport) passes.push(...EXPORT_PASSES);
  return passes;
}

/** The export tail: fused nodes back to standard ONNX, then cleanup. */
export const EXPORT_PASSES: readonly Pass[] = [expandFusedNodesPass, eliminateDeadNodesPass];

/** Every pass by name (for --disable-pass / --print-after validation). */
export const ALL_PASSES: readonly Pass[] = [
  decomposeBatchNormPass,
  eliminateCommonSubexpressionsPass,
  eliminateDeadNodesPass,
  expandFusedNodesPass,
  foldBatchNormPass,
  foldConstantsPass,
  foldConvMulAddPass,
  foldPadPass,
  fuseConvActivationPass,
  fuseConvResidualPass,
  fuseHardSwishPass,
  fuseSiluPass,
  inferShapesPass,
  removeIdentityPass,
  simplifyGemmInputPass,
  simplifyTransposeReshapePass,
  substituteHardActivationsPass,
];
