/**
 * What the demo page offers, shared by the server (which files exist) and the page (how to feed and read
 * them). The bundled PaddleOCR text-orientation classifier is always there; the shared ImageNet-shaped
 * models appear when ../shared/models exists. Inputs: the shared models' stored input tensors, or for the
 * classifier a rendered line of text, so the output (0 or 180 degrees) means something to a person.
 */

/** A model as the page sees it (URLs are relative to the server root). */
export interface DemoModel {
  id: string;
  label: string;
  url: string;
  /** The QDQ int8 variant, when one exists. */
  int8Url?: string;
  inputName: string;
  inputShape: number[];
  /** Raw float32 input tensor; absent: the page renders text (classifier). */
  inputUrl?: string;
  /** Class names (absent: "class i"). */
  classes?: string[];
}

/** The bundled classifier, preselected on the page. */
export const DEFAULT_MODEL_ID = 'ppocr-cls';

/**
 * Input for the text-orientation classifier: dark text on white, normalised as PaddleOCR does
 * ((v/255 - 0.5) / 0.5), from 8-bit RGBA pixels of a 192x48 image (rotated 180 degrees when `flip`).
 */
export function rgbaToClsInput(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Float32Array {
  const hw = width * height;
  const x = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) x[c * hw + i] = (rgba[4 * i + c]! / 255 - 0.5) / 0.5;
  }
  return x;
}

/** Softmax then the k most likely classes, for display. */
export function topClasses(logits: ArrayLike<number>, k: number, classes?: string[]): { label: string; p: number }[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  // PaddleOCR's classifier already ends in Softmax: probabilities summing to 1 are kept as they are.
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += logits[i]!;
  const isProb = Math.abs(sum - 1) < 1e-3 && Array.from(logits).every((v) => v >= 0);
  const e = Array.from(logits, (v) => (isProb ? v : Math.exp(v - max)));
  const z = e.reduce((a, b) => a + b, 0);
  return e
    .map((v, i) => ({ label: classes?.[i] ?? `class ${i}`, p: v / z }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}
