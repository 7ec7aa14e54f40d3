// What a rule's policy and faults decide for one call: refuse it (deny, rate limit, abort) with
// a message, and/or hold it for a delay. The filter carries the verdict out in its protocol.
import { Rule, denyMessage } from "./rule";
import { Rng } from "./rng";
import { takeToken } from "./token-bucket";

export const enum Refusal {
  None = 0,
  Denied = 1,
  RateLimited = 2,
  /** fault.abort */
  Aborted = 3,
}

export class Verdict {
  refusal: Refusal = Refusal.None;
  /** The answer's message when refused. */
  message: string = "";
  /** Hold the call this long first (0 = no delay). */
  delayMs: i32 = 0;

  /**
   * Judges a call matching `rule` (null: no rule). Policy first: deny, then the token bucket
   * `<bucketPrefix><rule name>` (token-bucket.ts). Then the faults, each drawn per call: abort,
   * and delay; a denied or rate-limited call is not delayed, an aborted one may be (Envoy's fault
   * filter delays before it aborts).
   */
  judge(rule: Rule | null, rng: Rng, bucketPrefix: string): void {
    this.refusal = Refusal.None;
    this.message = "";
    this.delayMs = 0;
    if (rule === null) return;
    if (rule.deny) {
      this.refusal = Refusal.Denied;
      this.message = denyMessage(rule);
      return;
    }
    if (rule.rateTokens > 0 && !takeToken(bucketPrefix + rule.name, rule.rateTokens, rule.rateIntervalMs)) {
      this.refusal = Refusal.RateLimited;
      this.message = "rate limited by protomesh rule " + rule.name;
      return;
    }
    if (rng.chance(rule.abortMilliPercent)) {
      this.refusal = Refusal.Aborted;
      this.message = rule.abortMessage;
    }
    if (rule.delayMs > 0 && rng.chance(rule.delayMilliPercent)) this.delayMs = rule.delayMs;
  }
}
