// Writes fixtures/text-lines.png: a deterministic 320x320 "document" (light paper, dark glyph-like strokes in
// lines of varying length) that PaddleOCR's detector responds to, for checks and demos that need a realistic
// input without shipping a photo. Usage: node scripts/make-text-image.mjs [out.png]
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';

const out = process.argv[2] ?? 'fixtures/text-lines.png';
const W = 320,
  H = 320;
const png = new PNG({ width: W, height: H });
let s = 12345;
const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
for (let i = 0; i < W * H; i++) {
  const v = 235 + Math.floor(rnd() * 12);
  png.data.set([v, v - 3, v - 8, 255], i * 4);
}
const dot = (x, y, v) => {
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  png.data.set([v, v, v + 10, 255], (y * W + x) * 4);
};
for (let line = 0; line < 9; line++) {
  const y0 = 20 + line * 33;
  const len = 120 + Math.floor(rnd() * 170);
  const glyphH = 14 + Math.floor(rnd() * 6);
  for (let x0 = 16; x0 < 16 + len; x0 += 11) {
    if (rnd() < 0.12) continue; // word gap
    const strokes = 2 + Math.floor(rnd() * 3);
    for (let k = 0; k < strokes; k++) {
      const vertical = rnd() < 0.6;
      const ox = x0 + Math.floor(rnd() * 8),
        oy = y0 + Math.floor(rnd() * (glyphH - 4));
      for (let t = 0; t < (vertical ? glyphH - (oy - y0) : 8); t++) {
        for (let w = 0; w < 2; w++)
          dot(vertical ? ox + w : ox + t, vertical ? oy + t : oy + w, 20 + Math.floor(rnd() * 30));
      }
    }
  }
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, PNG.sync.write(png));
console.log(`wrote ${out}`);
