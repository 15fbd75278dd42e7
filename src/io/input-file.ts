/**
 * Reading a model input from a file: raw little-endian `.f32`/`.bin` (shape taken from the model), `.npy`, or
 * an image (`.png`, `.jpg`, `.jpeg`) decoded, resized to the model's input size and normalised.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { type ImagePreprocess, decodeImage, imageToTensor } from './image.js';
import { readNpy } from './npy.js';

export interface InputFileOptions {
  /** The concrete shape the model expects (for raw files and image sizes). */
  shape: readonly number[];
  mean?: readonly number[];
  std?: readonly number[];
  channels?: 'rgb' | 'bgr';
}

export function readInputFile(path: string, options: InputFileOptions): Tensor {
  if (!existsSync(path)) throw new EdgecnnError(`input file '${path}' does not exist`, 'missing-file');
  const bytes = new Uint8Array(readFileSync(path));
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return readNpy(bytes, path);
  if (ext === '.png' || ext === '.jpg' || ext === '.jpeg') {
    const s = options.shape;
    if (s.length !== 4 || s[1] !== 3) {
      throw new EdgecnnError(`${path}: an image needs a model input of shape Nx3xHxW, not ${s.join('x')}`, 'bad-input');
    }
    const p: ImagePreprocess = {
      height: s[2]!,
      width: s[3]!,
      mean: options.mean ?? [0.485, 0.456, 0.406],
      std: options.std ?? [0.229, 0.224, 0.225],
      channels: options.channels,
    };
    return imageToTensor(decodeImage(bytes, path), p);
  }
  const n = sizeOf(options.shape);
  if (bytes.length !== n * 4) {
    throw new EdgecnnError(
      `${path}: raw float32 input has ${bytes.length} bytes, the model's input ${options.shape.join('x')} needs ${n * 4}`,
      'bad-input',
    );
  }
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  for (let i = 0; i < data.length; i++) {
    if (Number.isNaN(data[i]!)) throw new EdgecnnError(`${path}: element ${i} is NaN`, 'bad-input');
  }
  return makeTensor('float32', options.shape, data);
}
