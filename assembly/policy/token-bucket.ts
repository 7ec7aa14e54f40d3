// A token bucket shared by every worker VM of a plugin: one bucket per key in the host's shared
// data (proxy_get_shared_data / proxy_set_shared_data with CAS), so N workers together allow
// `tokens` per interval, not N times that. Used by the RPC filters' rate limit and by the
// http-telemetry memquota handler; each decides what a failed take means for its traffic.
//
// The host's shared data is one map per VM id behind one mutex; a set with a non-zero cas fails
// with CasMismatch when another worker wrote the key since our get, and a set with cas 0 writes
// unconditionally (proxy-wasm-cpp-host src/shared_data.cc, `SharedData::set`). A worker that
// loses the race reads again and retries.
import { WasmResult } from "../runtime/enums";
import { getSharedData, setSharedData } from "../runtime/hostcalls";

/** CAS rounds before a take gives up under contention (TakeOutcome.Contended). */
export const CAS_ROUNDS: i32 = 8;

export enum TakeOutcome {
  Allowed = 0,
  /** The bucket is empty. */
  Limited = 1,
  /** Every CAS round lost to another worker. */
  Contended = 2,
  /** The host refused a shared-data call (`status`). */
  HostError = 3,
}

/** Of the last takeToken in this VM (a VM runs one callback at a time). */
export class LastTake {
  /** Tokens left after an Allowed or Limited take. */
  static remaining: i64 = 0;
  /** The bucket's paid-up time after an Allowed or Limited take (msToNextToken). */
  static last: u64 = 0;
  /** The host's answer after a HostError. */
  static status: WasmResult = WasmResult.Ok;
}

/** A bucket's state: tokens left and the time (ms) up to which refills were paid. */
export class Bucket {
  constructor(public left: i64, public last: u64) {}
}

/**
 * Refills `b` up to `nowMs` for `tokens` per `intervalMs`, capped at `tokens`. Only whole tokens
 * are added and time advances only by what they paid for, so a partial refill is kept.
 */
export function refill(b: Bucket, nowMs: u64, tokens: i32, intervalMs: i32): void {
  if (nowMs <= b.last) return;
  const add = <i64>((nowMs - b.last) * <u64>tokens / <u64>intervalMs);
  if (add <= 0) return;
  b.left += add;
  b.last += <u64>add * <u64>intervalMs / <u64>tokens;
  if (b.left >= <i64>tokens) {
    b.left = tokens;
    b.last = nowMs;
  }
}

/** Milliseconds until the bucket holds one more token (0 when full). */
export function msToNextToken(b: Bucket, nowMs: u64, tokens: i32, intervalMs: i32): u64 {
  if (b.left >= <i64>tokens) return 0;
  const per = (<u64>intervalMs + <u64>tokens - 1) / <u64>tokens;
  const due = b.last + per;
  return due > nowMs ? due - nowMs : 0;
}

// Value layout: i64 tokens left, u64 ms of the last paid refill (16 bytes, little-endian).
export function decodeBucket(v: ArrayBuffer, tokens: i32, nowMs: u64): Bucket {
  if (v.byteLength != 16) return new Bucket(tokens, nowMs);
  return new Bucket(load<i64>(changetype<usize>(v)), load<u64>(changetype<usize>(v) + 8));
}

export function encodeBucket(b: Bucket): ArrayBuffer {
  const out = new ArrayBuffer(16);
  store<i64>(changetype<usize>(out), b.left);
  store<u64>(changetype<usize>(out) + 8, b.last);
  return out;
}

/**
 * Takes one token of bucket `key` (`tokens` per `intervalMs`, full at first use) at `nowMs`.
 * The caller decides what Contended and HostError mean for the request; LastTake has the details.
 */
export function takeToken(key: string, tokens: i32, intervalMs: i32, nowMs: u64): TakeOutcome {
  for (let attempt = 0; attempt < CAS_ROUNDS; attempt++) {
    const cur = getSharedData(key);
    if (!cur.ok && cur.status != WasmResult.NotFound) return hostError(cur.status);
    const b = decodeBucket(cur.value, tokens, nowMs);
    refill(b, nowMs, tokens, intervalMs);
    const ok = b.left > 0;
    if (ok) b.left--;
    // cas 0 on a key not there yet: two workers creating it at once both succeed, each with a
    // full bucket less one token; at most one extra token per worker, once per key.
    const s = setSharedData(key, encodeBucket(b), cur.ok ? cur.cas : 0);
    if (s == WasmResult.Ok) {
      LastTake.remaining = b.left;
      LastTake.last = b.last;
      return ok ? TakeOutcome.Allowed : TakeOutcome.Limited;
    }
    if (s != WasmResult.CasMismatch) return hostError(s);
  }
  return TakeOutcome.Contended;
}

function hostError(s: WasmResult): TakeOutcome {
  LastTake.status = s;
  return TakeOutcome.HostError;
}
