/**
 * Marks a module's imported memory as shared, so every thread can instantiate the same bytes over one
 * `WebAssembly.Memory({ shared: true })`. The compiler emits a plain import (min + max pages, flag 0x01); a
 * shared import has flag 0x03 and needs a maximum. We walk the import section (id 2) entry by entry and flip
 * that one byte in a copy: same length, so no offsets move. The runtime does this rather than the compiler so
 * that one artifact runs single-threaded where SharedArrayBuffer is missing.
 */
import { EdgecnnError } from '../../ir/errors.js';

/** A copy of `wasm` whose memory import is shared; throws when there is no memory import with a maximum. */
export function withSharedMemoryImport(wasm: Uint8Array): Uint8Array {
  const out = new Uint8Array(wasm);
  let pos = 8; // magic + version
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= out.length) throw new EdgecnnError('truncated module while reading its imports', 'internal');
      const b = out[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  const skipName = (): void => {
    const n = leb();
    pos += n;
  };
  const skipLimits = (): void => {
    const flag = out[pos++]!;
    leb();
    if (flag & 1) leb();
  };
  while (pos < out.length) {
    const id = out[pos++]!;
    const size = leb();
    const end = pos + size;
    if (id !== 2) {
      pos = end;
      continue;
    }
    const count = leb();
    for (let i = 0; i < count; i++) {
      skipName();
      skipName();
      const kind = out[pos++]!;
      if (kind === 0x00) leb();
      else if (kind === 0x01) {
        pos++; // reftype
        skipLimits();
      } else if (kind === 0x02) {
        const flag = out[pos]!;
        if ((flag & 1) === 0) {
          throw new EdgecnnError('the module imports a memory without a maximum; it cannot be shared', 'internal');
        }
        out[pos] = flag | 0x02;
        return out;
      } else if (kind === 0x03)
        pos += 2; // valtype, mutability
      else throw new EdgecnnError(`unknown import kind 0x${kind.toString(16)} in the module`, 'internal');
    }
    break;
  }
  throw new EdgecnnError('the module imports no memory; it cannot run on threads', 'internal');
}
