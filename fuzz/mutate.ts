import type { Rng } from "./rng.js";
import type { Seed } from "./corpus.js";

/** Upper bound of one generated input; the scratch buffer is allocated once. */
export const MAX_INPUT = 4096;

/** Values that sit on parser boundaries (sign bits, length limits, ASCII delimiters). */
const INTERESTING = [0x00, 0x01, 0x0a, 0x0d, 0x20, 0x7f, 0x80, 0xfe, 0xff];

/**
 * Produces inputs into one reused buffer so a run of a million first flights allocates nothing
 * per input. The returned view is valid until the next call.
 */
export class Mutator {
  private readonly scratch = new Uint8Array(MAX_INPUT);
  private readonly other = new Uint8Array(MAX_INPUT);
  /** Which corpus entry / strategy produced the last input (for failure reports). */
  origin = "";

  constructor(
    private readonly rng: Rng,
    private readonly corpus: readonly Seed[],
  ) {}

  next(): Uint8Array {
    const roll = this.rng.int(100);
    if (roll < 10) return this.random();
    const seed = this.rng.pick(this.corpus);
    let length = Math.min(seed.bytes.length, MAX_INPUT);
    this.scratch.set(seed.bytes.subarray(0, length));
    if (roll < 20) {
      this.origin = `${seed.name} (verbatim)`;
      return this.scratch.subarray(0, length);
    }
    const count = this.rng.range(1, 4);
    const ops: string[] = [];
    for (let i = 0; i < count; i++) {
      const op = this.rng.int(8);
      ops.push(OPS[op]!);
      length = this.apply(op, length);
    }
    this.origin = `${seed.name} (${ops.join(",")})`;
    return this.scratch.subarray(0, length);
  }

  private random(): Uint8Array {
    const length = this.rng.int(this.rng.chance(0.8) ? 256 : MAX_INPUT);
    if (this.rng.chance(0.5)) {
      this.rng.fill(this.scratch, 0, length);
      this.origin = "random";
    } else {
      // Printable noise looks like a text protocol to a sniffer and walks different branches.
      for (let i = 0; i < length; i++) this.scratch[i] = 0x20 + this.rng.int(0x5f);
      this.origin = "random-ascii";
    }
    return this.scratch.subarray(0, length);
  }

  private apply(op: number, length: number): number {
    const s = this.scratch;
    const rng = this.rng;
    switch (op) {
      case 0: // flip one bit
        if (length > 0) s[rng.int(length)]! ^= 1 << rng.int(8);
        return length;
      case 1: // set one byte to an interesting value
        if (length > 0) s[rng.int(length)] = rng.pick(INTERESTING);
        return length;
      case 2: // random byte
        if (length > 0) s[rng.int(length)] = rng.int(256);
        return length;
      case 3: // truncate
        return rng.int(length + 1);
      case 4: {
        // delete a range
        if (length === 0) return 0;
        const at = rng.int(length);
        const n = rng.range(1, Math.min(16, length - at));
        s.copyWithin(at, at + n, length);
        return length - n;
      }
      case 5: {
        // insert random bytes
        const n = Math.min(rng.range(1, 32), MAX_INPUT - length);
        const at = rng.int(length + 1);
        s.copyWithin(at + n, at, length);
        rng.fill(s, at, at + n);
        return length + n;
      }
      case 6: {
        // big-endian 32-bit length field to an extreme value (parsers trust these first)
        if (length < 4) return length;
        const at = rng.int(length - 3);
        const v = rng.pick([0, 0x7fffffff, 0x80000000, 0xffffffff, length, length + 1]);
        s[at] = v >>> 24;
        s[at + 1] = (v >>> 16) & 0xff;
        s[at + 2] = (v >>> 8) & 0xff;
        s[at + 3] = v & 0xff;
        return length;
      }
      default: {
        // splice: keep a prefix, continue with the tail of another seed
        const donor = rng.pick(this.corpus).bytes;
        const cut = rng.int(length + 1);
        const from = rng.int(donor.length + 1);
        const n = Math.min(donor.length - from, MAX_INPUT - cut);
        this.other.set(donor.subarray(from, from + n));
        s.set(this.other.subarray(0, n), cut);
        return cut + n;
      }
    }
  }
}

const OPS = ["bitflip", "interesting", "byte", "truncate", "delete", "insert", "len32", "splice"];
