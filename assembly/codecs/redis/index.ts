// Redis (RESP2/RESP3, "Redis serialization protocol specification"): clients send commands as
// an array of bulk strings: "*<count>\r\n$<len>\r\n<arg>\r\n…" (envoy
// source/extensions/filters/network/common/redis/codec_impl.cc decodes the same). Redis also
// accepts "inline" commands (a text line); those are ambiguous with every other text protocol,
// so only an allowlist of commands a probe or a human would type first counts:
// PING, INFO, AUTH, HELLO, QUIT, ECHO — case-insensitive, followed by SP, CR or LF.
import { Decision } from "../detect/result";
import { at, packLE } from "../detect/bytes";

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

export const INLINE: StaticArray<string> = ["PING", "INFO", "AUTH", "HELLO", "QUIT", "ECHO"];
/**
 * INLINE packed little-endian (byte 0 in the low bits), in the same order; the spec checks
 * they spell INLINE. Every letter is upper case, so `byte & 0xDF` equals one exactly when the
 * byte is that letter in either case.
 */
export const INLINE_WORDS: StaticArray<u64> = [
  0x474e4950, 0x4f464e49, 0x48545541, 0x4f4c4c4548, 0x54495551, 0x4f484345,
];
const INLINE_LENGTHS: StaticArray<i32> = [4, 4, 4, 5, 4, 4];

function detectInline(p: usize, len: i32, info: RedisInfo): Decision {
  // The first bytes (≤ 5, the longest word), case-folded onto the packed words' letters.
  const n = len < 5 ? len : 5;
  const seen = packLE(p, 0, n) & 0xdfdfdfdfdf;
  let pending = false;
  for (let k = 0; k < INLINE_WORDS.length; k++) {
    const w = unchecked(INLINE_LENGTHS[k]);
    const m = n < w ? n : w;
    const mask: u64 = (<u64>1 << (<u64>m << 3)) - 1;
    if (((seen ^ unchecked(INLINE_WORDS[k])) & mask) != 0) continue;
    if (len <= w) {
      pending = true;
      continue;
    }
    const b = at(p, w);
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
