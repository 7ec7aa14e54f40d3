/**
 * What a `.wasm` is made of: bytes per section and per function body, with function names from
 * the module's `name` custom section when it has one (debug builds; a release build compiled
 * with `--debug` keeps the release code and adds the names). Used by the bench's size section
 * and by `bench/wasm-size.ts` when looking for what to shrink.
 */

/** Standard section ids (WebAssembly core spec, 5.5.2). */
const SECTION_NAMES = [
  "custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element",
  "code", "data", "datacount",
] as const;

export interface SectionSize {
  /** `code`, `data`…; custom sections as `custom:<name>`. */
  readonly name: string;
  /** Bytes including the section's id and size header. */
  readonly bytes: number;
}

export interface FunctionSize {
  /** Function index (imports first, as in the module's index space). */
  readonly index: number;
  readonly name: string;
  /** Bytes of the body including its size prefix. */
  readonly bytes: number;
}

export interface WasmAnatomy {
  readonly total: number;
  readonly sections: SectionSize[];
  readonly functions: FunctionSize[];
  /** Bytes of each data segment with its header (flags, offset expression, length), in order. */
  readonly dataSegments: number[];
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  u8(): number {
    if (this.pos >= this.b.length) throw new RangeError(`wasm truncated at byte ${this.pos}`);
    return this.b[this.pos++]!;
  }
  /** Unsigned LEB128 (up to 32 bits, as every size and index in a module). */
  uleb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new RangeError(`LEB128 longer than 5 bytes at byte ${this.pos}`);
    }
  }
  name(): string {
    const len = this.uleb();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

function importedFunctions(r: Reader, end: number): number {
  let count = 0;
  const n = r.uleb();
  for (let i = 0; i < n; i++) {
    r.name();
    r.name();
    const kind = r.u8();
    if (kind === 0) {
      r.uleb();
      count++;
    } else if (kind === 1) {
      r.u8();
      limits(r);
    } else if (kind === 2) {
      limits(r);
    } else if (kind === 3) {
      r.u8();
      r.u8();
    } else {
      r.pos = end;
      return count;
    }
  }
  return count;
}

function limits(r: Reader): void {
  const flags = r.u8();
  r.uleb();
  if (flags & 1) r.uleb();
}

/** Function names from the `name` section's subsection 1 (function names). */
function functionNames(r: Reader, end: number, names: Map<number, string>): void {
  while (r.pos < end) {
    const id = r.u8();
    const size = r.uleb();
    const next = r.pos + size;
    if (id === 1) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const index = r.uleb();
        names.set(index, r.name());
      }
    }
    r.pos = next;
  }
}

/** Parses `bytes` as a WebAssembly binary; throws a RangeError naming the offset when it is not one. */
export function wasmAnatomy(bytes: Uint8Array): WasmAnatomy {
  const r = new Reader(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  for (const m of magic) if (r.u8() !== m) throw new RangeError("not a wasm module (bad magic)");
  r.pos = 8;
  const sections: SectionSize[] = [];
  const bodies: Array<{ offset: number; bytes: number }> = [];
  const dataSegments: number[] = [];
  const names = new Map<number, string>();
  let imported = 0;
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.u8();
    const size = r.uleb();
    const body = r.pos;
    const end = body + size;
    let name: string = SECTION_NAMES[id] ?? `unknown(${id})`;
    if (id === 0) {
      const custom = r.name();
      name = `custom:${custom}`;
      if (custom === "name") functionNames(r, end, names);
    } else if (id === 2) {
      imported = importedFunctions(r, end);
    } else if (id === 10) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const at = r.pos;
        const len = r.uleb();
        r.pos += len;
        bodies.push({ offset: at, bytes: r.pos - at });
      }
    } else if (id === 11) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const at = r.pos;
        const flags = r.uleb();
        if (flags === 2) r.uleb();
        if (flags !== 1) skipConstExpr(r);
        const len = r.uleb();
        r.pos += len;
        dataSegments.push(r.pos - at);
      }
    }
    r.pos = end;
    sections.push({ name, bytes: end - start });
  }
  const functions = bodies.map((b, i) => {
    const index = imported + i;
    return { index, name: names.get(index) ?? `$${index}`, bytes: b.bytes };
  });
  return { total: bytes.length, sections, functions, dataSegments };
}

/** An init expression (i32.const n / global.get g, then end). */
function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.u8();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x23) r.uleb();
    else if (op === 0x42) {
      while (r.u8() & 0x80);
    }
  }
}
