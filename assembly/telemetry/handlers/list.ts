// list backend (Mixer's list adapter): allows or refuses a request by one attribute's value
// against a list of exact values and prefixes. Whitelist (default): a request whose value is not
// listed is refused; blacklist: a listed value is refused. An absent value is "" (listed only if
// an entry says so).
import { RequestAttributes, attrName, attrValue } from "../request";
import { CheckHandler, Verdict } from "./check";
import { ConnectionAttributes } from "./handler";

export class ListEntry {
  constructor(public prefix: bool, public value: string) {}
}

/** Whether `v` equals an exact entry or starts with a prefix entry. */
export function listed(entries: ListEntry[], v: string): bool {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.prefix ? v.startsWith(e.value) : v == e.value) return true;
  }
  return false;
}

/** The refusal body: names the attribute and its value. */
export function listRefusal(attr: i32, v: string, blacklist: bool): string {
  return attrName(attr) + " \"" + v + "\" is " + (blacklist ? "blacklisted" : "not whitelisted") + "\n";
}

export class ListHandler extends CheckHandler {
  attr: i32 = -1;
  entries: ListEntry[] = [];
  blacklist: bool = false;

  constructor(name: string) {
    super(name, "list");
    this.details = "http_telemetry_list_denied";
  }

  check(conn: ConnectionAttributes, r: RequestAttributes, nowMs: u64): Verdict {
    const v = attrValue(this.attr, conn.bag, r);
    if (listed(this.entries, v) != this.blacklist) return Verdict.Allow;
    this.body = listRefusal(this.attr, v, this.blacklist);
    return Verdict.Deny;
  }
}
