// A local rate limit shared by every worker VM of the plugin: one token bucket per key in the
// host's shared data (proxy_get_shared_data / proxy_set_shared_data with CAS), so N workers
// together allow `tokens` per interval, not N times that.
import { WasmResult, getCurrentTimeNanoseconds, getSharedData, setSharedData } from "../../runtime";
import { warnFailed } from "./warn";

/** CAS rounds before giving up under contention (and letting the call through). */
const CAS_ROUNDS = 8;

/**
 * Takes one token of bucket `key` (`tokens` per `intervalMs`, full at first use). True when the
 * call may pass. A host failure or lasting contention lets the call through: the limit must not
 * refuse traffic on its own failure.
 */
export function takeToken(key: string, tokens: i32, intervalMs: i32): bool {
  const now = getCurrentTimeNanoseconds() / 1000000;
  for (let attempt = 0; attempt < CAS_ROUNDS; attempt++) {
    const cur = getSharedData(key);
    // Value layout: i64 tokens left, u64 ms of the last refill (16 bytes, little-endian).
    let left: i64 = tokens;
    let last: u64 = now;
    if (cur.ok && cur.value.byteLength == 16) {
      left = load<i64>(changetype<usize>(cur.value));
      last = load<u64>(changetype<usize>(cur.value) + 8);
      if (now > last) {
        const refill = <i64>((now - last) * <u64>tokens / <u64>intervalMs);
        if (refill > 0) {
          left += refill;
          if (left > <i64>tokens) left = tokens;
          // Keep the remainder of a partial refill by advancing time only by what was paid.
          last += <u64>refill * <u64>intervalMs / <u64>tokens;
          if (left == <i64>tokens) last = now;
        }
      }
    }
    const ok = left > 0;
    if (ok) left--;
    const next = new ArrayBuffer(16);
    store<i64>(changetype<usize>(next), left);
    store<u64>(changetype<usize>(next) + 8, last);
    const s = setSharedData(key, next, cur.ok ? cur.cas : 0);
    if (s == WasmResult.Ok) return ok;
    if (s != WasmResult.CasMismatch) {
      warnFailed("rate limit: set_shared_data " + key, s, "; allowing");
      return true;
    }
  }
  return true;
}
