/**
 * Image inputs: PNG and JPEG decoded to RGB, resized with bilinear interpolation (half-pixel centres, like
 * PIL/torchvision for upscaling), and normalised per channel as (pixel/255 - mean) / std into NCHW float32.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';

export interface RgbImage {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row-major. */
  rgba: Uint8Array;
}

export function decodeImage(bytes: Uint8Array, where: string): RgbImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (e) {
    throw new EdgecnnError(`${where}: cannot decode image: ${(e as Error).message}`, 'bad-input');
  }
  throw new EdgecnnError(`${where}: not a PNG or JPEG image`, 'bad-input');
}

export interface ImagePreprocess {
  width: number;
  height: number;
  mean: readonly number[];
  std: readonly number[];
  /** Channel order of the model's input. */
  channels?: 'rgb' | 'bgr';
}

/** ImageNet normalisation, what torchvision classifiers expect. */
export const IMAGENET_NORMALIZATION = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

export function imageToTensor(img: RgbImage, p: ImagePreprocess): Tensor {
  const { width: W, height: H } = p;
  const out = new Float32Array(3 * H * W);
  const sx = img.width / W;
  const sy = img.height / H;
  const order = p.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const src = order[c]!;
        const at = (yy: number, xx: number): number => img.rgba[(yy * img.width + xx) * 4 + src]!;
        const v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out[c * H * W + y * W + x] = (v / 255 - p.mean[c]!) / p.std[c]!;
      }
    }
  }
  return makeTensor('float32', [1, 3, H, W], out);
}
