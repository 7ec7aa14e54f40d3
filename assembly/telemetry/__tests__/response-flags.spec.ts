import { NO_FLAGS, RESPONSE_FLAG_CODES, responseFlagsText } from "../response-flags";

class FlagCase {
  constructor(public name: string, public flags: u64, public text: string) {}
}

function bit(i: i32): u64 {
  return (<u64>1) << <u64>i;
}

// Every core flag alone (CoreResponseFlag value = bit index, envoy/stream_info/stream_info.h), then
// combinations as they happen, in bit order.
const SINGLE: string[] = [
  "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
  "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR", "UDO",
];

const CASES: FlagCase[] = [
  new FlagCase("none", 0, "-"),
  new FlagCase("a retried connection failure", bit(5) | bit(15), "UF,URX"),
  new FlagCase("a delayed request that then failed", bit(9) | bit(1), "UH,DI"),
  new FlagCase("ext_authz refused and its service failed", bit(12) | bit(13), "UAEX,RLSE"),
  new FlagCase("the first and the last flag", bit(0) | bit(29), "LH,UDO"),
  new FlagCase("a bit past the last known flag alone", bit(30), "-"),
  new FlagCase("a bit past the last known flag beside a known one", bit(63) | bit(8), "NR"),
];

describe("response flags (envoy ResponseFlagUtils::toShortString over response.flags)", () => {
  it("the table has Envoy 1.37-1.39's 30 core flags", () => {
    expect(RESPONSE_FLAG_CODES.length).toBe(30);
    for (let i = 0; i < SINGLE.length; i++) expect(RESPONSE_FLAG_CODES[i]).toBe(SINGLE[i]);
  });

  it("each flag alone prints its short code", () => {
    for (let i = 0; i < SINGLE.length; i++) expect(responseFlagsText(bit(i))).toBe(SINGLE[i]);
  });

  it("combinations print comma-joined in bit order, no flag as -", () => {
    for (let i = 0; i < CASES.length; i++) {
      const c = CASES[i];
      const got = responseFlagsText(c.flags);
      if (got != c.text) throw new Error(c.name + ": got " + got + ", want " + c.text);
      expect(got).toBe(c.text);
    }
  });

  it("every flag set prints all 30 codes", () => {
    expect(responseFlagsText(0x3fffffff)).toBe(SINGLE.join(","));
    expect(NO_FLAGS).toBe("-");
  });
});
