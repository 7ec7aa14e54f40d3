import { detectKafka, KafkaInfo } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, ptr } from "../../__fixtures__/bytes";

describe("kafka request header", () => {
  it("matches kafkajs' ApiVersions request (api_key 18)", () => {
    const c = capture("kafka-apiversions");
    const info = new KafkaInfo();
    expect<i32>(detectKafka(c.ptr, c.length, info)).toBe(Decision.Match);
    expect(info.apiKey).toBe(18);
    expect(info.apiVersion).toBe(2);
    expect<i32>(detectKafka(c.ptr, 13, new KafkaInfo())).toBe(Decision.NeedMoreData);
  });

  it("accepts a null client id and rejects out-of-range fields", () => {
    const nul = bytes().be32(10).be16(3).be16(1).be32(7).be16(0xffff).build();
    expect<i32>(detectKafka(ptr(nul), nul.length, new KafkaInfo())).toBe(Decision.Match);
    const small = bytes().be32(9).be16(3).be16(1).be32(7).be16(0).build();
    expect<i32>(detectKafka(ptr(small), small.length, new KafkaInfo())).toBe(Decision.NoMatch);
    const version = bytes().be32(20).be16(3).be16(64).be32(7).be16(0).build();
    expect<i32>(detectKafka(ptr(version), version.length, new KafkaInfo())).toBe(Decision.NoMatch);
    const negative = bytes().be32(20).be16(0xffff).be16(1).be32(7).be16(0).build();
    expect<i32>(detectKafka(ptr(negative), negative.length, new KafkaInfo())).toBe(Decision.NoMatch);
  });
});
