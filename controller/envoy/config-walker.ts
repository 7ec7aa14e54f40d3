/**
 * Walks a config object (proto3 JSON / YAML shape) against an Envoy message type, as Envoy's
 * loader does: protobuf's JSON parser first (unknown fields at any depth, value kinds, oneof
 * exclusivity, the JSON forms of well-known types, every `typed_config` Any unpacked by its
 * `@type`), then the PGV rules of every message it reached (pgv-rules.ts). Envoy parses YAML by
 * converting it to JSON (source/common/protobuf/utility.cc, loadFromYaml → loadFromJson) and
 * validates the bootstrap and each unpacked Any (MessageUtil::validate), so any issue found here
 * fails Envoy's startup or NACKs the resource.
 */
import protobuf from "protobufjs";
import { checkEnum, checkScalar, checkWellKnown, kindOf, scalarDefault, SPECIAL_JSON, type Checked } from "./json-forms.js";
import { elementRules, fieldRules, oneofRequired, rulesDisabled, skipsMessage, type FieldRules } from "./pgv-annotations.js";
import { mapViolations, repeatedViolations, requiredViolation, show, valueViolations, type RuleValue } from "./pgv-rules.js";
import type { ProtoRegistry } from "./proto-registry.js";
import { jsonName, suggestion } from "./suggest.js";
import { formatPath, type PathSegment, type ValidationIssue } from "./validation-issue.js";

const TYPE_URL_PREFIX = "type.googleapis.com/";

/** A message object the walker reached, with its type (an Any's contents have the type its `@type` names). */
export interface MessageVisit {
  readonly typeName: string;
  readonly value: Readonly<Record<string, unknown>>;
  /** As in ValidationIssue.path. */
  readonly path: string;
  readonly segments: readonly PathSegment[];
}

export type MessageVisitor = (visit: MessageVisit) => void;

const nameOf = (t: protobuf.ReflectionObject): string => t.fullName.replace(/^\./, "");

export class ConfigWalker {
  constructor(private readonly registry: ProtoRegistry) {}

  /** Every issue in `value` as a `type`; `visitor` sees each message object reached. */
  walk(type: protobuf.Type, value: unknown, visitor?: MessageVisitor): ValidationIssue[] {
    const walk = new Walk(this.registry, visitor);
    walk.message(type, value, [], true);
    return walk.issues;
  }
}

/** One walk's state: the issues found and the visitor. */
class Walk {
  readonly issues: ValidationIssue[] = [];

  constructor(private readonly registry: ProtoRegistry, private readonly visitor: MessageVisitor | undefined) {}

  private report(path: readonly PathSegment[], message: string): void {
    this.issues.push({ path: formatPath(path), message });
  }

  /** `rulesOn`: PGV rules apply here (false below a `message.skip` or a `(validate.disabled)` message). */
  message(type: protobuf.Type, value: unknown, path: PathSegment[], rulesOn: boolean): void {
    const name = nameOf(type);
    if (name === "google.protobuf.Any") {
      this.any(value, path, undefined);
      return;
    }
    if (SPECIAL_JSON.has(name)) {
      const checked = checkWellKnown(name, value);
      if (checked !== undefined && "problem" in checked) this.report(path, checked.problem);
      return;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.report(path, `expected a mapping (${name}), got ${kindOf(value)}`);
      return;
    }
    this.fields(type, value as Record<string, unknown>, path, new Set(), rulesOn);
  }

  private fields(type: protobuf.Type, obj: Record<string, unknown>, path: PathSegment[], skip: ReadonlySet<string>, rulesOn: boolean): void {
    this.visitor?.({ typeName: nameOf(type), value: obj, path: formatPath(path), segments: path });
    const rulesHere = rulesOn && !rulesDisabled(type);
    const byName = new Map<string, protobuf.Field>();
    for (const f of type.fieldsArray) {
      byName.set(f.name, f);
      byName.set(jsonName(f.name), f);
      const custom = (f.options as Record<string, unknown> | undefined)?.["json_name"];
      if (typeof custom === "string") byName.set(custom, f);
    }
    const seen = new Map<string, string>();
    const oneofSet = new Map<string, string>();
    for (const key of Object.keys(obj).sort()) {
      if (skip.has(key)) continue;
      const fieldPath = [...path, key];
      const field = byName.get(key);
      if (field === undefined) {
        this.report(fieldPath, `unknown field in ${nameOf(type)}${suggestion(key, type.fieldsArray.map((f) => f.name))}`);
        continue;
      }
      const previous = seen.get(field.name);
      if (previous !== undefined) {
        this.report(fieldPath, `field ${field.name} is also set as "${previous}"; keep one spelling`);
        continue;
      }
      seen.set(field.name, key);
      const value = obj[key];
      if (value === null || value === undefined) continue; // proto3 JSON: null = unset
      const oneof = field.partOf;
      if (oneof !== null && oneof !== undefined) {
        const other = oneofSet.get(oneof.name);
        if (other !== undefined) {
          this.report(fieldPath, `"${field.name}" and "${other}" are both set but belong to oneof ${oneof.name}; set only one`);
        } else {
          oneofSet.set(oneof.name, field.name);
        }
      }
      this.field(field, value, fieldPath, rulesHere);
    }
    if (rulesHere) this.absent(type, obj, path, seen, oneofSet);
  }

  /** PGV rules that fire on unset fields: required members, counts, and scalars' default values. */
  private absent(type: protobuf.Type, obj: Record<string, unknown>, path: PathSegment[], seen: ReadonlyMap<string, string>, oneofSet: ReadonlyMap<string, string>): void {
    for (const oneof of type.oneofsArray) {
      if (oneofRequired(oneof) && !oneofSet.has(oneof.name)) {
        const members = oneof.fieldsArray.map((f) => f.name).join(", ");
        this.report(path, `none of ${members} is set, violates (validate.required) on oneof ${oneof.name}`);
      }
    }
    for (const field of type.fieldsArray) {
      const key = seen.get(field.name);
      if (key !== undefined && obj[key] !== null && obj[key] !== undefined) continue;
      // A oneof member (proto3 `optional` fields included) is checked only when it is the one set.
      if (field.partOf !== null && field.partOf !== undefined) continue;
      const rules = fieldRules(field);
      if (rules === undefined) continue;
      const where = [...path, field.name];
      const problems = field.map ? mapViolations(rules, 0)
        : field.repeated ? repeatedViolations(rules, [])
        : field.resolvedType instanceof protobuf.Type ? [requiredViolation(rules)].filter((p): p is string => p !== undefined)
        : valueViolations(rules, this.defaultOf(field)).map((v) => `unset (${show(defaultShown(field))}), ${v}`);
      for (const p of problems) this.report(where, p);
    }
  }

  private defaultOf(field: protobuf.Field): RuleValue {
    const e = field.resolvedType;
    if (e instanceof protobuf.Enum) return { kind: "enum", n: 0, defined: Object.values(e.values), names: e.values };
    return scalarDefault(field.type);
  }

  private field(field: protobuf.Field, value: unknown, path: PathSegment[], rulesOn: boolean): void {
    const rules = rulesOn ? fieldRules(field) : undefined;
    if (field.map) {
      const keyType = (field as unknown as protobuf.MapField).keyType;
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        this.report(path, `expected a mapping (map<${keyType}, ${field.type}>), got ${kindOf(value)}`);
        return;
      }
      const entries = Object.entries(value as Record<string, unknown>);
      for (const p of rules === undefined ? [] : mapViolations(rules, entries.length)) this.report(path, p);
      const keyRules = elementRules(rules, "keys");
      for (const [k, v] of entries) {
        // JSON map keys are strings; a bool key is "true" or "false".
        const keyChecked = checkScalar(keyType, keyType === "bool" && (k === "true" || k === "false") ? k === "true" : k);
        if ("problem" in keyChecked) this.report([...path, k], `map key: ${keyChecked.problem}`);
        else if (keyRules !== undefined) for (const p of valueViolations(keyRules, keyChecked.value)) this.report([...path, k], `key ${show(k)} ${p}`);
        this.single(field, v, [...path, k], elementRules(rules, "values"), rulesOn);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        this.report(path, `expected a list of ${field.type}, got ${kindOf(value)}`);
        return;
      }
      if (rules !== undefined) for (const p of repeatedViolations(rules, value.map((v) => JSON.stringify(v)))) this.report(path, p);
      const itemRules = elementRules(rules, "items");
      value.forEach((v, i) => this.single(field, v, [...path, i], itemRules, rulesOn));
      return;
    }
    this.single(field, value, path, rules, rulesOn);
  }

  /** One value of a field (the field itself, a list item or a map value) and the rules for it. */
  private single(field: protobuf.Field, value: unknown, path: PathSegment[], rules: FieldRules | undefined, rulesOn: boolean): void {
    if (value === null && (field.repeated || field.map)) {
      this.report(path, `null cannot occur inside a list or map`);
      return;
    }
    const resolved = field.resolvedType;
    let checked: Checked | undefined;
    if (resolved instanceof protobuf.Type) {
      const name = nameOf(resolved);
      if (name === "google.protobuf.Any") {
        this.any(value, path, rules);
        return;
      }
      if (!SPECIAL_JSON.has(name)) {
        this.message(resolved, value, path, rulesOn && !skipsMessage(rules));
        return;
      }
      checked = checkWellKnown(name, value);
    } else if (resolved instanceof protobuf.Enum) {
      checked = checkEnum(resolved, value, suggestion);
    } else {
      checked = checkScalar(field.type, value);
    }
    if (checked === undefined) return;
    if ("problem" in checked) {
      this.report(path, checked.problem);
      return;
    }
    if (rules !== undefined) for (const v of valueViolations(rules, checked.value)) this.report(path, `${show(value)} ${v}`);
  }

  private any(value: unknown, path: PathSegment[], rules: FieldRules | undefined): void {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.report(path, `expected a mapping with "@type" (google.protobuf.Any), got ${kindOf(value)}`);
      return;
    }
    const obj = value as Record<string, unknown>;
    const typeUrl = obj["@type"];
    if (typeof typeUrl !== "string") {
      this.report([...path, "@type"], `missing "@type": an Any needs "${TYPE_URL_PREFIX}<message>"`);
      return;
    }
    if (rules !== undefined) for (const v of valueViolations(rules, { kind: "any", typeUrl })) this.report([...path, "@type"], `${show(typeUrl)} ${v}`);
    const slash = typeUrl.lastIndexOf("/");
    const typeName = slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
    if (slash < 0) this.report([...path, "@type"], `type URL ${JSON.stringify(typeUrl)} has no "/"; write ${TYPE_URL_PREFIX}${typeUrl}`);
    const found = this.registry.lookupType(typeName);
    if ("problem" in found) {
      this.report([...path, "@type"], `unknown type ${typeName}: ${found.problem}`);
      return;
    }
    if (SPECIAL_JSON.has(typeName)) {
      for (const key of Object.keys(obj)) {
        if (key !== "@type" && key !== "value") this.report([...path, key], `unknown field in an Any holding ${typeName}: its JSON form goes in "value"`);
      }
      if ("value" in obj) this.message(found.type, obj["value"], [...path, "value"], true);
      return;
    }
    // Envoy validates what it unpacks from an Any (MessageUtil::anyConvertAndValidate): rules apply again.
    this.fields(found.type, obj, path, new Set(["@type"]), true);
  }
}

function defaultShown(field: protobuf.Field): unknown {
  const e = field.resolvedType;
  if (e instanceof protobuf.Enum) return Object.keys(e.values).find((k) => e.values[k] === 0) ?? 0;
  switch (field.type) {
    case "string":
    case "bytes": return "";
    case "bool": return false;
    default: return 0;
  }
}
