// memquota backend (Mixer's memquota adapter): a token bucket per key (the values of chosen
// attributes), `max_amount` tokens per `valid_duration`, shared by every worker VM of the plugin
// through shared data with CAS (assembly/policy/token-bucket.ts). A request with no token left is
// refused 429 with the headers Envoy's local_ratelimit filter sends.
import { HeaderPair } from "../../runtime/pairs";
import { Bucket, LastTake, TakeOutcome, msToNextToken, takeToken } from "../../policy/token-bucket";
import { RequestAttributes, attrValue } from "../request";
import { CheckHandler, Verdict } from "./check";
import { ConnectionAttributes } from "./handler";

/** The bucket of every key past `max_keys`. Header values never hold NUL, so no real key is this. */
export const OVERFLOW_KEY = "\0overflow";

/** The key of one request: the attribute values joined by NUL ("" with no attributes: one bucket). */
export function quotaKey(attrs: i32[], conn: ConnectionAttributes, r: RequestAttributes): string {
  let k = "";
  for (let i = 0; i < attrs.length; i++) {
    if (i > 0) k += "\0";
    k += attrValue(attrs[i], conn.bag, r);
  }
  return k;
}

export class MemQuotaHandler extends CheckHandler {
  maxAmount: i32 = 0;
  validMs: i32 = 1000;
  keyAttrs: i32[] = [];
  maxKeys: i32 = 1000;
  /** Shared-data key prefix: `<stat_prefix>.memquota.<name>/` (one plugin's VMs share a vm_id). */
  keyPrefix: string = "";
  overflowId: u32 = 0;
  /** Keys this VM has seen, at most maxKeys. */
  keys: Set<string> = new Set<string>();

  constructor(name: string) {
    super(name, "memquota");
    this.status = 429;
    // Envoy's local_ratelimit: body and details "local_rate_limited".
    this.details = "local_rate_limited";
    this.body = "local_rate_limited";
  }

  deniedWord(): string {
    return "limited";
  }

  start(statPrefix: string, overflowId: u32): void {
    this.keyPrefix = statPrefix + ".memquota." + this.name + "/";
    this.overflowId = overflowId;
  }

  check(conn: ConnectionAttributes, r: RequestAttributes, nowMs: u64): Verdict {
    let k = quotaKey(this.keyAttrs, conn, r);
    if (!this.keys.has(k)) {
      if (this.keys.size >= this.maxKeys) {
        k = OVERFLOW_KEY;
        this.count(this.overflowId);
      } else {
        this.keys.add(k);
      }
    }
    const t = takeToken(this.keyPrefix + k, this.maxAmount, this.validMs, nowMs);
    if (t == TakeOutcome.Allowed) return Verdict.Allow;
    if (t != TakeOutcome.Limited) return Verdict.Failed;
    // envoy source/extensions/filters/http/common/ratelimit_headers.h names; values as
    // local_ratelimit.cc encodeHeaders writes them: the bucket size, tokens left, seconds to reset.
    const h = new Array<HeaderPair>();
    h.push(new HeaderPair("x-ratelimit-limit", this.maxAmount.toString()));
    h.push(new HeaderPair("x-ratelimit-remaining", LastTake.remaining.toString()));
    h.push(new HeaderPair("x-ratelimit-reset", ((msToNextToken(new Bucket(LastTake.remaining, LastTake.last), nowMs, this.maxAmount, this.validMs) + 999) / 1000).toString()));
    this.headers = h;
    return Verdict.Deny;
  }
}
