/**
 * The protoc-gen-validate annotations of a message, its fields and oneofs, as protobufjs parsed
 * them from Envoy's .proto files (custom options are kept in `parsedOptions`).
 */
import type protobuf from "protobufjs";

/** The merged `(validate.rules)` of one field (a PGV FieldRules message as protobufjs parsed it). */
export type FieldRules = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

type Options = ReadonlyArray<Readonly<Record<string, unknown>>> | null | undefined;

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(out[k]) && isObject(v) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

function parsedOptions(obj: protobuf.ReflectionObject): Options {
  return (obj as unknown as { parsedOptions?: Options }).parsedOptions;
}

/**
 * The `(validate.rules)` of a field. protobufjs keeps custom options in `parsedOptions`, one entry
 * per option statement (`[(validate.rules).string = {min_len: 1}, (validate.rules).string.max_bytes = 9]`
 * gives one entry or two), so the entries are merged.
 */
export function fieldRules(field: protobuf.Field): FieldRules | undefined {
  let merged: Record<string, unknown> | undefined;
  for (const opt of parsedOptions(field) ?? []) {
    const rules = opt["(validate.rules)"];
    if (isObject(rules)) merged = deepMerge(merged ?? {}, rules);
  }
  return merged as FieldRules | undefined;
}

/** `option (validate.required) = true;` on a oneof. */
export function oneofRequired(oneof: protobuf.OneOf): boolean {
  return (oneof.options as Record<string, unknown> | undefined)?.["(validate.required)"] === true;
}

/** `option (validate.disabled) = true;` (or `ignored`) on a message: PGV checks none of its fields. */
export function rulesDisabled(type: protobuf.Type): boolean {
  const o = type.options as Record<string, unknown> | undefined;
  return o?.["(validate.disabled)"] === true || o?.["(validate.ignored)"] === true;
}

/** `message.skip`: PGV does not descend into the field's message. */
export function skipsMessage(rules: FieldRules | undefined): boolean {
  return rules !== undefined && isObject(rules["message"]) && rules["message"]["skip"] === true;
}

/** The rules for each item of a repeated field, or each key / value of a map. */
export function elementRules(rules: FieldRules | undefined, part: "items" | "keys" | "values"): FieldRules | undefined {
  const holder = rules?.[part === "items" ? "repeated" : "map"];
  const inner = isObject(holder) ? holder[part] : undefined;
  return isObject(inner) ? (inner as FieldRules) : undefined;
}
