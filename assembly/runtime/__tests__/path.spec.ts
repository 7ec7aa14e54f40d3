import { joinPath, splitDotted } from "../path";

describe("property paths", () => {
  it("joins segments with NUL", () => {
    const b = joinPath(["source", "address"]);
    expect(String.UTF8.decode(b)).toBe("source\0address");
    expect(b.byteLength).toBe(14);
  });

  it("keeps a single segment as is", () => {
    expect(String.UTF8.decode(joinPath(["plugin_root_id"]))).toBe("plugin_root_id");
  });

  it("encodes segments as UTF-8", () => {
    const b = joinPath(["filter_state", "wasm.é"]);
    expect(b.byteLength).toBe(20);
    expect(String.UTF8.decode(b)).toBe("filter_state\0wasm.é");
  });

  it("gives an empty path for no segments", () => {
    expect(joinPath([]).byteLength).toBe(0);
  });

  it("keeps empty segments", () => {
    expect(String.UTF8.decode(joinPath(["a", "", "b"]))).toBe("a\0\0b");
  });

  it("splits dotted names", () => {
    const s = splitDotted("xds.cluster_name");
    expect(s.length).toBe(2);
    expect(s[0]).toBe("xds");
    expect(s[1]).toBe("cluster_name");
  });
});
