// MQTT CONNECT (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1; 3.1 used "MQIsdp" with level 3):
//   0x10 | remaining length (varint, 1-4 bytes) | int16 name length | "MQTT" or "MQIsdp" |
//   protocol level | connect flags (bit 0 reserved, must be 0 — 3.1.1 §3.1.2.3)
// Mosquitto bridges set bit 7 of the level ("try_private"), so the level is compared without it.
import { Decision } from "../detect/result";
import { at, prefixWord } from "../detect/bytes";

/** "MQTT" and "MQIsdp" as little-endian words (the spec checks them). */
export const MQTT_NAME_WORD: u64 = 0x5454514d;
export const MQISDP_NAME_WORD: u64 = 0x70647349514d;

export class MqttInfo {
  /** 3 (3.1), 4 (3.1.1) or 5. */
  level: u32 = 0;
  reset(): void {
    this.level = 0;
  }
}

export function detectMqtt(p: usize, len: i32, info: MqttInfo): Decision {
  if (len < 1) return Decision.NeedMoreData;
  // CONNECT has packet type 1 and all four flag bits 0.
  if (at(p, 0) != 0x10) return Decision.NoMatch;
  // Remaining length: at most 4 bytes, each with a continuation bit.
  let i = 1;
  let remaining: u32 = 0;
  let shift: u32 = 0;
  while (true) {
    if (i >= len) return Decision.NeedMoreData;
    if (i > 4) return Decision.NoMatch;
    const b = at(p, i);
    remaining |= (b & 0x7f) << shift;
    shift += 7;
    i++;
    if ((b & 0x80) == 0) break;
  }
  // Variable header alone is 10 bytes (3.1.1/5) or 12 (3.1).
  if (remaining < 10) return Decision.NoMatch;
  if (i < len && at(p, i) != 0) return Decision.NoMatch;
  if (i + 1 >= len) return Decision.NeedMoreData;
  const nameLen = at(p, i + 1);
  const name = i + 2;
  let level: u32;
  if (nameLen == 4) {
    const n = prefixWord(p, len, name, MQTT_NAME_WORD, 4);
    if (n < 0) return Decision.NoMatch;
    if (n < 4 || name + 4 >= len) return Decision.NeedMoreData;
    level = at(p, name + 4) & 0x7f;
    if (level != 4 && level != 5) return Decision.NoMatch;
  } else if (nameLen == 6) {
    const n = prefixWord(p, len, name, MQISDP_NAME_WORD, 6);
    if (n < 0) return Decision.NoMatch;
    if (n < 6 || name + 6 >= len) return Decision.NeedMoreData;
    level = at(p, name + 6) & 0x7f;
    if (level != 3) return Decision.NoMatch;
  } else {
    return Decision.NoMatch;
  }
  const flags = name + <i32>nameLen + 1;
  if (flags >= len) return Decision.NeedMoreData;
  if ((at(p, flags) & 0x01) != 0) return Decision.NoMatch;
  info.level = level;
  return Decision.Match;
}
