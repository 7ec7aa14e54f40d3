// What the sniffer publishes for each Protocol, precomputed once per configuration: the UTF-8
// protocol name (set_property value), the encoded set_envoy_filter_state arguments (route mode's
// cluster; empty = write none), the connections_total metric id and the verdict.
//
// Why raw memory: the decision reads four of these per connection, and a field load at an
// address puts nothing on AssemblyScript's shadow stack, unlike an element of a managed array
// (every managed reference live across a call is spilled). So the records are plain bytes at
// `base + (protocol << RECORD_SHIFT)`, written only by `ProtocolRecords.write` and read only by
// the @inline `record*` accessors below; the offsets come from the compiler (`offsetof` on the
// @unmanaged RecordLayout) and `__tests__/records.spec.ts` checks them.
import { PROTOCOL_COUNT, Protocol } from "../../codecs/detect/result";
import { Verdict } from "./decide";

/** The layout of one record. Never instantiated: only its field offsets are used. */
// @ts-ignore: decorator
@unmanaged export class RecordLayout {
  /** UTF-8 protocol name: the set_property value. */
  protocolPtr: usize;
  protocolLen: usize;
  /** Encoded set_envoy_filter_state arguments (route's cluster); length 0 = write none. */
  argsPtr: usize;
  argsLen: usize;
  /** connections_total metric id, -1 when defining it failed. */
  metric: i64;
  verdict: u32;
}

export const RECORD_PROTOCOL_PTR: usize = offsetof<RecordLayout>("protocolPtr");
export const RECORD_PROTOCOL_LEN: usize = offsetof<RecordLayout>("protocolLen");
export const RECORD_ARGS_PTR: usize = offsetof<RecordLayout>("argsPtr");
export const RECORD_ARGS_LEN: usize = offsetof<RecordLayout>("argsLen");
export const RECORD_METRIC: usize = offsetof<RecordLayout>("metric");
export const RECORD_VERDICT: usize = offsetof<RecordLayout>("verdict");
/** Records are 1 << RECORD_SHIFT bytes apart (a shift, not a multiply, per lookup). */
export const RECORD_SHIFT: usize = 5;
/** Bytes one record uses (≤ 1 << RECORD_SHIFT; the spec checks it). */
export const RECORD_USED: usize = offsetof<RecordLayout>();

/** The records of one configuration, and the buffers they point into (kept alive here). */
export class ProtocolRecords {
  /** Address of record 0; never freed (one table per root context, rewritten in place). */
  readonly base: usize = heap.alloc(<usize>PROTOCOL_COUNT << RECORD_SHIFT);
  /** [protocol name, filter state arguments] per Protocol: what the addresses point into. */
  private readonly buffers: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(PROTOCOL_COUNT * 2);

  /** The one writer. `args` may be empty (write no filter state). */
  write(p: Protocol, protocolName: ArrayBuffer, args: ArrayBuffer, metric: i64, verdict: Verdict): void {
    const i = <i32>p;
    this.buffers[i * 2] = protocolName;
    this.buffers[i * 2 + 1] = args;
    const e = recordAt(this.base, p);
    store<usize>(e, changetype<usize>(protocolName), RECORD_PROTOCOL_PTR);
    store<usize>(e, <usize>protocolName.byteLength, RECORD_PROTOCOL_LEN);
    store<usize>(e, changetype<usize>(args), RECORD_ARGS_PTR);
    store<usize>(e, <usize>args.byteLength, RECORD_ARGS_LEN);
    store<i64>(e, metric, RECORD_METRIC);
    store<u32>(e, <u32>verdict, RECORD_VERDICT);
  }
}

/** The record of `p` (an enum value, so inside the table). */
// @ts-ignore: decorator
@inline export function recordAt(base: usize, p: Protocol): usize {
  return base + (<usize>p << RECORD_SHIFT);
}

// @ts-ignore: decorator
@inline export function recordProtocolPtr(e: usize): usize {
  return load<usize>(e, RECORD_PROTOCOL_PTR);
}

// @ts-ignore: decorator
@inline export function recordProtocolLen(e: usize): usize {
  return load<usize>(e, RECORD_PROTOCOL_LEN);
}

// @ts-ignore: decorator
@inline export function recordArgsPtr(e: usize): usize {
  return load<usize>(e, RECORD_ARGS_PTR);
}

// @ts-ignore: decorator
@inline export function recordArgsLen(e: usize): usize {
  return load<usize>(e, RECORD_ARGS_LEN);
}

// @ts-ignore: decorator
@inline export function recordMetric(e: usize): i64 {
  return load<i64>(e, RECORD_METRIC);
}

// @ts-ignore: decorator
@inline export function recordVerdict(e: usize): Verdict {
  return <Verdict>load<u32>(e, RECORD_VERDICT);
}
