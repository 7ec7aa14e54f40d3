// A rule of the rule model (controller/rules/schema.ts) as an RPC filter holds it after parsing
// (rule-parse.ts): what it matches, where it routes, its policy and its faults. Pure code.
import { NameKind, NameMatch } from "./name-match";
import { HeaderMatch } from "./header-match";

/** Percentages are held as thousandths of a percent: 100% = 100000. */
export const PERCENT_SCALE: i32 = 100000;

export class Rule {
  name: string = "";
  service: NameMatch = new NameMatch(NameKind.Any, "");
  method: NameMatch = new NameMatch(NameKind.Any, "");
  /** Exact service version / group (Dubbo); "" = any. */
  version: string = "";
  group: string = "";
  /** Every entry must hold. */
  headers: HeaderMatch[] = [];
  /** One cluster, or several with weights (running totals in `cumulative`). [] for deny-only. */
  clusters: string[] = [];
  cumulative: u32[] = [];
  totalWeight: u32 = 0;
  deny: bool = false;
  /** The answer of deny (default "denied by protomesh rule <name>"). */
  message: string = "";
  /** Token bucket: `rateTokens` calls per `rateIntervalMs` (0 = no limit). */
  rateTokens: i32 = 0;
  rateIntervalMs: i32 = 0;
  /** Abort fault: answer `abortMilliPercent` / PERCENT_SCALE of the calls with `abortMessage`. */
  abortMessage: string = "";
  abortMilliPercent: i32 = 0;
  /** Delay fault: hold `delayMilliPercent` / PERCENT_SCALE of the calls `delayMs` (0 = none). */
  delayMs: i32 = 0;
  delayMilliPercent: i32 = 0;
}

/** A rule's deny message, the default naming the rule. */
export function denyMessage(r: Rule): string {
  return r.message.length > 0 ? r.message : "denied by protomesh rule " + r.name;
}
