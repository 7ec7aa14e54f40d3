/**
 * Deterministic YAML for everything the controller writes: keys sorted at every depth, YAML 1.2
 * core schema pinned, no line folding, so rendering the same props twice gives the same bytes
 * and a diff of two renders shows only what changed.
 */
import { stringify } from "yaml";

/** A copy of `value` with object keys sorted (arrays keep their order; undefined entries dropped). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out as T;
  }
  return value;
}

/** Renders one YAML document with sorted keys and the pinned schema. */
export function toYaml(value: unknown, header?: string): string {
  const body = stringify(sortKeys(value), {
    version: "1.2",
    schema: "core",
    sortMapEntries: true,
    lineWidth: 0,
    indentSeq: true,
    aliasDuplicateObjects: false,
  });
  if (header === undefined) return body;
  return header.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n") + "\n" + body;
}
