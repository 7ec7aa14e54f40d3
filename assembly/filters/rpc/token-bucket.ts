// The RPC filters' local rate limit: the shared token bucket (assembly/policy/token-bucket.ts),
// one bucket per rule for all worker VMs of the plugin.
import { getCurrentTimeNanoseconds } from "../../runtime";
import { LastTake, TakeOutcome, takeToken as take } from "../../policy/token-bucket";
import { warnFailed } from "./warn";

/**
 * Takes one token of bucket `key` (`tokens` per `intervalMs`, full at first use). True when the
 * call may pass. A host failure or lasting contention lets the call through: the limit must not
 * refuse traffic on its own failure.
 */
export function takeToken(key: string, tokens: i32, intervalMs: i32): bool {
  const t = take(key, tokens, intervalMs, getCurrentTimeNanoseconds() / 1000000);
  if (t == TakeOutcome.HostError) warnFailed("rate limit: shared data " + key, LastTake.status, "; allowing");
  return t != TakeOutcome.Limited;
}
