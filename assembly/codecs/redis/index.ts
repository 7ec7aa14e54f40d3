// Redis (RESP2/RESP3, "Redis serialization protocol specification"): clients send commands as
// an array of bulk strings: "*<count>\r\n$<len>\r\n<arg>\r\n…" (envoy
// source/extensions/filters/network/common/redis/codec_impl.cc decodes the same). Redis also
// accepts "inline" commands (a text line); those are ambiguous with every other text protocol,
// so only an allowlist of commands a probe or a human would type first counts:
// PING, INFO, AUTH, HELLO, QUIT, ECHO — case-insensitive, followed by SP, CR or LF.
import { Decision } from "../detect/result";
import { at, upper } from "../detect/bytes";

export const enum RedisKind {
  None = 0,
  Array = 1,
  Inline = 2,
}

export class RedisInfo {
  kind: RedisKind = RedisKind.None;
  /** Element count of the first array (RESP) — the command's argument count. */
  count: u32 = 0;
  reset(): void {
    this.kind = RedisKind.None;
    this.count = 0;
  }
}

/** Redis rejects larger multibulk counts from unauthenticated clients (1024*1024). */
const MAX_COUNT_DIGITS = 7;

const INLINE: StaticArray<string> = ["PING", "INFO", "AUTH", "HELLO", "QUIT", "ECHO"];

function detectInline(p: usize, len: i32, info: RedisInfo): Decision {
  let pending = false;
  for (let k = 0; k < INLINE.length; k++) {
    const word = unchecked(INLINE[k]);
    const n = word.length;
    let ok = true;
    let i = 0;
    for (; i < n && i < len; i++) {
      if (upper(at(p, i)) != <u32>word.charCodeAt(i)) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (len <= n) {
      pending = true;
      continue;
    }
    const b = at(p, n);
    if (b == 0x20 || b == 0x0d || b == 0x0a) {
      info.kind = RedisKind.Inline;
      return Decision.Match;
    }
  }
  return pending ? Decision.NeedMoreData : Decision.NoMatch;
}

export function detectRedis(p: usize, len: i32, info: RedisInfo): Decision {
  if (len < 1) return Decision.NeedMoreData;
  if (at(p, 0) != 0x2a) return detectInline(p, len, info); // '*'
  // "*" digit{1,7} "\r\n" "$"
  let count: u32 = 0;
  let i = 1;
  for (; i < len; i++) {
    const b = at(p, i);
    if (b - 0x30 < 10) {
      if (i == 1 && b == 0x30) return Decision.NoMatch; // "*0": an empty command
      if (i > MAX_COUNT_DIGITS) return Decision.NoMatch;
      count = count * 10 + (b - 0x30);
      continue;
    }
    if (i == 1 || b != 0x0d) return Decision.NoMatch;
    break;
  }
  if (i + 1 >= len) return Decision.NeedMoreData;
  if (at(p, i + 1) != 0x0a) return Decision.NoMatch;
  if (i + 2 >= len) return Decision.NeedMoreData;
  if (at(p, i + 2) != 0x24) return Decision.NoMatch; // '$'
  info.kind = RedisKind.Array;
  info.count = count;
  return Decision.Match;
}
