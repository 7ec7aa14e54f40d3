import { detectMqtt, MqttInfo } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, ptr } from "../../__fixtures__/bytes";

describe("mqtt CONNECT", () => {
  it("matches mqtt.js CONNECT for 3.1 (MQIsdp), 3.1.1 and 5.0 with their levels", () => {
    const names = ["mqtt-v31-connect", "mqtt-v311-connect", "mqtt-v5-connect"];
    const levels: u32[] = [3, 4, 5];
    for (let i = 0; i < names.length; i++) {
      const c = capture(names[i]);
      const info = new MqttInfo();
      expect<i32>(detectMqtt(c.ptr, c.length, info)).toBe(Decision.Match, names[i]);
      expect(info.level).toBe(levels[i], names[i]);
    }
  });

  it("accepts a multi-byte remaining length and a bridge level bit", () => {
    const b = bytes().u8(0x10).u8(0x80 | 0x10).u8(0x01).be16(4).text("MQTT").u8(0x84).u8(0x02).build();
    const info = new MqttInfo();
    expect<i32>(detectMqtt(ptr(b), b.length, info)).toBe(Decision.Match);
    expect(info.level).toBe(4);
  });

  it("rejects other packet types, protocol names and level mismatches", () => {
    const pub = bytes().u8(0x30).u8(12).be16(4).text("MQTT").u8(4).u8(2).build();
    expect<i32>(detectMqtt(ptr(pub), pub.length, new MqttInfo())).toBe(Decision.NoMatch);
    const name = bytes().u8(0x10).u8(12).be16(4).text("MQTX").u8(4).u8(2).build();
    expect<i32>(detectMqtt(ptr(name), name.length, new MqttInfo())).toBe(Decision.NoMatch);
    const level = bytes().u8(0x10).u8(14).be16(6).text("MQIsdp").u8(4).u8(2).build();
    expect<i32>(detectMqtt(ptr(level), level.length, new MqttInfo())).toBe(Decision.NoMatch);
  });
});
