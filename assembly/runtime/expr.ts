// CEL expressions evaluated by the host: Envoy's foreign functions `expr_create` (expression
// text → uint32 token), `expr_evaluate` (the 4-byte token → the value) and `expr_delete` (the
// token), registered in envoy source/extensions/common/wasm/foreign.cc under
// `#if defined(WASM_USE_CEL_PARSER)` (source/extensions/common/wasm/BUILD defines it on every
// platform but windows_x86_64; there the functions are unknown and the call answers NotFound).
//
// - expr_create: a parse or compile error is BadArgument; the token lives in the ROOT context's
//   store (getOrCreateContext(current_context_->root_context())), so create once per plugin
//   configuration and evaluate from any stream context of that root.
// - expr_evaluate: an argument that is not 4 bytes is BadArgument, an unknown token NotFound,
//   an evaluation error (a missing attribute, a type error) InternalFailure; the value comes
//   back as context.cc serializeValue writes it: string/bytes raw, int64/uint64/double 8 bytes
//   little-endian, bool 1 byte, duration and timestamp int64 nanoseconds, a map as proxy-wasm
//   pairs of serialized keys and values, a list as pairs whose values are empty.
// - expr_delete: always Ok (an unknown token is ignored).
//
// The expression is evaluated against the current Context, whose CEL activation answers the
// same names as proxy_get_property (Context::FindValue → findValue, context.h).
import { WasmResult } from "./enums";
import { BytesResult, EMPTY, callForeignFunctionBytes } from "./hostcalls";

let createName: ArrayBuffer | null = null;
let evaluateName: ArrayBuffer | null = null;
let deleteName: ArrayBuffer | null = null;

// Encoded on first use (no allocation in the start function of modules that never use CEL).
function nameOf(which: i32): ArrayBuffer {
  if (which == 0) {
    if (createName === null) createName = String.UTF8.encode("expr_create");
    return changetype<ArrayBuffer>(createName);
  }
  if (which == 1) {
    if (evaluateName === null) evaluateName = String.UTF8.encode("expr_evaluate");
    return changetype<ArrayBuffer>(evaluateName);
  }
  if (deleteName === null) deleteName = String.UTF8.encode("expr_delete");
  return changetype<ArrayBuffer>(deleteName);
}

/**
 * A host-compiled CEL expression. `status` is expr_create's answer: Ok (usable), NotFound (the
 * host has no CEL: Envoy built without WASM_USE_CEL_PARSER), BadArgument (Envoy could not parse
 * or compile `text`; its log says why at info level).
 */
export class Expression {
  /** The token as expr_evaluate / expr_delete take it: 4 bytes, little-endian. */
  private arg: ArrayBuffer = new ArrayBuffer(4);
  deleted: bool = false;

  constructor(public text: string, public status: WasmResult, public token: u32) {
    store<u32>(changetype<usize>(this.arg), token);
  }

  get ok(): bool {
    return this.status == WasmResult.Ok && !this.deleted;
  }

  /** The value serialized by the host, or the host's status (InternalFailure: evaluation error). */
  evaluate(): BytesResult {
    if (!this.ok) return new BytesResult(this.status == WasmResult.Ok ? WasmResult.NotFound : this.status, EMPTY);
    return callForeignFunctionBytes(nameOf(1), this.arg);
  }

  /** Frees the host's copy; the expression is unusable afterwards. */
  delete(): WasmResult {
    if (!this.ok) return WasmResult.Ok;
    this.deleted = true;
    return callForeignFunctionBytes(nameOf(2), this.arg).status;
  }
}

/** expr_create: compiles `text` in the current root context (call from onConfigure). */
export function createExpression(text: string): Expression {
  const r = callForeignFunctionBytes(nameOf(0), String.UTF8.encode(text));
  if (!r.ok) return new Expression(text, r.status, 0);
  if (r.value.byteLength != 4) return new Expression(text, WasmResult.SerializationFailure, 0);
  return new Expression(text, WasmResult.Ok, load<u32>(changetype<usize>(r.value)));
}

/**
 * A CEL map as serializeValue writes it (proxy-wasm pairs), read in place: values stay raw
 * bytes (an int64 is 8 bytes, not UTF-8 text). CEL maps do not keep their literal's order, so
 * entries are found by key. `error` names what is wrong with the buffer, "" when valid.
 */
export class ExprMap {
  error: string = "";
  private buf: ArrayBuffer = EMPTY;
  /** Per entry: key offset, key length, value offset, value length. */
  private spans: StaticArray<u32> = new StaticArray<u32>(0);
  count: i32 = 0;

  /** Parses `buf` (kept, not copied); every length is checked before it is read. */
  static parse(buf: ArrayBuffer): ExprMap {
    return new ExprMap().read(buf);
  }

  /** Parses `buf` into this map, reusing its entry table (one map per caller, no allocation per read). */
  read(buf: ArrayBuffer): ExprMap {
    const m = this;
    m.buf = buf;
    m.error = "";
    m.count = 0;
    const total = <usize>buf.byteLength;
    if (total < 4) {
      m.error = "CEL map of " + total.toString() + " bytes is shorter than its count";
      return m;
    }
    const base = changetype<usize>(buf);
    const n = <usize>load<u32>(base);
    if (n > (total - 4) / 8) {
      m.error = "CEL map count " + n.toString() + " does not fit in " + total.toString() + " bytes";
      return m;
    }
    let spans = m.spans;
    if (spans.length < <i32>n * 4) {
      spans = new StaticArray<u32>(<i32>n * 4);
      m.spans = spans;
    }
    let off: usize = 4 + n * 8;
    for (let i: usize = 0; i < n; i++) {
      const kl = <usize>load<u32>(base + 4 + i * 8);
      const vl = <usize>load<u32>(base + 8 + i * 8);
      if (kl > total - off || total - off - kl < 1) {
        m.error = "CEL map entry " + i.toString() + " key length " + kl.toString() + " overruns the buffer";
        return m;
      }
      spans[<i32>i * 4] = <u32>off;
      spans[<i32>i * 4 + 1] = <u32>kl;
      off += kl + 1;
      if (vl > total - off || total - off - vl < 1) {
        m.error = "CEL map entry " + i.toString() + " value length " + vl.toString() + " overruns the buffer";
        return m;
      }
      spans[<i32>i * 4 + 2] = <u32>off;
      spans[<i32>i * 4 + 3] = <u32>vl;
      off += vl + 1;
    }
    m.count = <i32>n;
    return m;
  }

  /** Entry index of `key` (one-byte ASCII keys compared in place), -1 when absent. */
  find(key: string): i32 {
    const base = changetype<usize>(this.buf);
    const kl = <u32>key.length;
    for (let i = 0; i < this.count; i++) {
      if (this.spans[i * 4 + 1] != kl) continue;
      const at = base + <usize>this.spans[i * 4];
      let same = true;
      for (let j: i32 = 0; j < <i32>kl && same; j++) same = <i32>load<u8>(at + <usize>j) == key.charCodeAt(j);
      if (same) return i;
    }
    return -1;
  }

  has(key: string): bool {
    return this.find(key) >= 0;
  }

  /** Length of `key`'s value, -1 when absent. */
  size(key: string): i32 {
    const i = this.find(key);
    return i < 0 ? -1 : <i32>this.spans[i * 4 + 3];
  }

  /** An int64 / duration / timestamp value; `dflt` when absent or not 8 bytes. */
  int64(key: string, dflt: i64): i64 {
    const i = this.find(key);
    if (i < 0 || this.spans[i * 4 + 3] != 8) return dflt;
    return load<i64>(changetype<usize>(this.buf) + <usize>this.spans[i * 4 + 2]);
  }

  /** A uint64 value; `dflt` when absent or not 8 bytes. */
  uint64(key: string, dflt: u64): u64 {
    return <u64>this.int64(key, <i64>dflt);
  }

  /** A bool value; `dflt` when absent or not 1 byte. */
  bool(key: string, dflt: bool): bool {
    const i = this.find(key);
    if (i < 0 || this.spans[i * 4 + 3] != 1) return dflt;
    return load<u8>(changetype<usize>(this.buf) + <usize>this.spans[i * 4 + 2]) != 0;
  }

  /** A string / bytes value decoded as UTF-8; `dflt` when absent. */
  string(key: string, dflt: string): string {
    const i = this.find(key);
    if (i < 0) return dflt;
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buf) + <usize>this.spans[i * 4 + 2], <usize>this.spans[i * 4 + 3]);
  }
}
