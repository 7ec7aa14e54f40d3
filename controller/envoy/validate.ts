/**
 * Validates Envoy configuration objects (proto3 JSON / YAML shape) against Envoy's own protos.
 *
 * Envoy parses YAML by converting it to JSON and running protobuf's JSON parser on the
 * Bootstrap message (source/common/protobuf/utility.cc, loadFromYaml → loadFromJson), and it
 * unpacks every `typed_config` Any the same way. So an unknown field anywhere, including inside
 * an Any, is fatal at startup. This module copies that: it walks the object with the reflection
 * of the protos shipped in @grpc/grpc-js-xds (about Envoy 1.30) plus a local overlay
 * (controller/envoy/overlay/*.proto) for fields added since, see docs/adr/0003.
 *
 * Checked: unknown fields at any depth (snake_case or lowerCamel names, as protobuf's JSON
 * parser accepts both), value kinds, integer ranges, enum names, oneof exclusivity, the JSON
 * forms of well-known types (Duration, wrappers, Struct, Any with `@type`), and the common
 * protoc-gen-validate rules Envoy enforces at load (required oneofs and messages, string
 * min_len, repeated min/max_items, numeric gt/gte/lt/lte). Not checked: the other PGV rules and
 * semantic rules Envoy applies in code.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";

/** The message a standalone Envoy config file holds. */
export const BOOTSTRAP_TYPE = "envoy.config.bootstrap.v3.Bootstrap";

const TYPE_URL_PREFIX = "type.googleapis.com/";

/** One problem found, with where it is. */
export interface ValidationIssue {
  /** Field path as Envoy YAML spells it, e.g. `static_resources.listeners[0].name`. */
  readonly path: string;
  readonly message: string;
  /** Set when validating YAML text or a file. */
  readonly file?: string;
  /** 1-based line of the offending key or value (YAML only). */
  readonly line?: number;
  /** 1-based column (YAML only). */
  readonly column?: number;
}

/** Thrown by the `assert*` helpers; `issues` holds every problem, not only the first. */
export class EnvoyConfigError extends Error {
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(`invalid Envoy configuration:\n${issues.map(formatIssue).join("\n")}`);
    this.name = "EnvoyConfigError";
  }
}

/** `file:line:column: path: message` (the parts that are known). */
export function formatIssue(issue: ValidationIssue): string {
  const where = issue.file !== undefined && issue.line !== undefined
    ? `${issue.file}:${issue.line}:${issue.column ?? 1}: `
    : issue.line !== undefined ? `line ${issue.line}:${issue.column ?? 1}: ` : "";
  return `${where}${issue.path === "" ? "(root)" : issue.path}: ${issue.message}`;
}

export interface EnvoyValidatorProps {
  /**
   * Folders searched for imports, in order.
   * @default the four proto trees of @grpc/grpc-js-xds (envoy-api, xds, googleapis, protoc-gen-validate)
   */
  readonly includePaths?: readonly string[];
  /**
   * Overlay .proto files merged into Envoy's messages.
   * @default every file in controller/envoy/overlay
   */
  readonly overlayFiles?: readonly string[];
}

type PathSegment = string | number;

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function defaultIncludePaths(): string[] {
  const xds = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(xds, "deps", d));
}

function defaultOverlayFiles(): string[] {
  const dir = join(here, "overlay");
  return readdirSync(dir).filter((f) => f.endsWith(".proto")).sort().map((f) => join(dir, f));
}

const OVERLAY_PREFIX = "protomesh.overlay.";

/** Wrapper types whose JSON form is the wrapped scalar. */
const WRAPPERS: Readonly<Record<string, string>> = {
  "google.protobuf.DoubleValue": "double",
  "google.protobuf.FloatValue": "float",
  "google.protobuf.Int64Value": "int64",
  "google.protobuf.UInt64Value": "uint64",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.BoolValue": "bool",
  "google.protobuf.StringValue": "string",
  "google.protobuf.BytesValue": "bytes",
};

/** Well-known types whose JSON form is not an object of fields (an Any holds them in `value`). */
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS),
  "google.protobuf.Duration",
  "google.protobuf.Timestamp",
  "google.protobuf.FieldMask",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.Any",
]);

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** protobuf's ToJsonName: drop each `_` and upper-case the letter after it. */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function suggestion(name: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : ` (did you mean "${best}"?)`;
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/**
 * Loads Envoy's protos once (lazily, per package folder, as `@type` URLs need them) and
 * validates objects against any message type.
 */
export class EnvoyValidator {
  private static sharedInstance: EnvoyValidator | undefined;

  /** One validator per process: loading the protos costs ~100 ms. */
  static shared(): EnvoyValidator {
    EnvoyValidator.sharedInstance ??= new EnvoyValidator();
    return EnvoyValidator.sharedInstance;
  }

  private readonly root = new protobuf.Root();
  private readonly includePaths: readonly string[];
  private readonly loadedDirs = new Set<string>();
  private readonly overlayFields: protobuf.Field[] = [];
  private readonly protobufjsDir = dirname(require.resolve("protobufjs/package.json"));

  constructor(props: EnvoyValidatorProps = {}) {
    this.includePaths = props.includePaths ?? defaultIncludePaths();
    this.root.resolvePath = (_origin, target) => this.resolveImport(target);
    this.load([join("envoy", "config", "bootstrap", "v3", "bootstrap.proto")]);
    this.applyOverlay(props.overlayFiles ?? defaultOverlayFiles());
  }

  /** Validates a plain object against `typeName` (default: Bootstrap). Empty list = valid. */
  validate(value: unknown, typeName: string = BOOTSTRAP_TYPE): ValidationIssue[] {
    const type = this.findType(typeName);
    if (type === undefined) {
      return [{ path: "", message: `unknown message type ${typeName}: no .proto under the include paths defines it` }];
    }
    const issues: ValidationIssue[] = [];
    this.checkMessage(type, value, [], issues);
    return issues;
  }

  /** Parses YAML (one document) and validates it; issues carry the line and column. */
  validateYaml(text: string, options: { readonly file?: string; readonly typeName?: string } = {}): ValidationIssue[] {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true, version: "1.2" });
    if (doc.errors.length > 0) {
      return doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: "", message: `YAML: ${e.message.split("\n")[0]}`, file: options.file, line: pos?.line, column: pos?.col };
      });
    }
    const issues = this.validate(doc.toJS({ maxAliasCount: 100 }), options.typeName);
    return issues.map((issue) => {
      const offset = locate(doc.contents, parsePath(issue.path));
      if (offset === undefined) return { ...issue, file: options.file };
      const pos = lineCounter.linePos(offset);
      return { ...issue, file: options.file, line: pos.line, column: pos.col };
    });
  }

  /** Reads and validates a YAML file holding an Envoy bootstrap. */
  validateFile(file: string, typeName: string = BOOTSTRAP_TYPE): ValidationIssue[] {
    return this.validateYaml(readFileSync(file, "utf8"), { file, typeName });
  }

  /** The names Envoy accepts for an enum, for error messages and tests. */
  enumValues(enumName: string): string[] {
    const e = this.root.lookupEnum(enumName);
    return Object.keys(e.values);
  }

  private resolveImport(target: string): string {
    if (target in protobuf.common) return target;
    if (target.startsWith("google/protobuf/")) {
      const bundled = join(this.protobufjsDir, target);
      if (existsSync(bundled)) return bundled;
    }
    for (const dir of this.includePaths) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  }

  private load(files: readonly string[]): void {
    this.root.loadSync(files.map((f) => this.resolveImport(f)), { keepCase: true, alternateCommentMode: false });
    this.root.resolveAll();
  }

  /** Loads every .proto of the folder that holds `packageName` (e.g. an Any's package). */
  private loadPackage(packageName: string): boolean {
    const rel = packageName.split(".").join("/");
    for (const dir of this.includePaths) {
      const abs = join(dir, rel);
      if (this.loadedDirs.has(abs) || !existsSync(abs)) continue;
      this.loadedDirs.add(abs);
      const protos = readdirSync(abs).filter((f) => f.endsWith(".proto")).sort();
      if (protos.length === 0) continue;
      this.load(protos.map((f) => join(rel, f)));
      return true;
    }
    return false;
  }

  private lookup(fullName: string): protobuf.ReflectionObject | null {
    return this.root.lookup(fullName.replace(/^\./, ""));
  }

  /** Finds a message, loading its package folder on first use (type URLs name types we may not have loaded). */
  private findType(fullName: string): protobuf.Type | undefined {
    let found = this.lookup(fullName);
    if (found === null) {
      const parts = fullName.split(".");
      for (let i = parts.length - 1; i > 0 && found === null; i--) {
        if (this.loadPackage(parts.slice(0, i).join("."))) found = this.lookup(fullName);
      }
    }
    return found instanceof protobuf.Type ? found : undefined;
  }

  private applyOverlay(files: readonly string[]): void {
    for (const file of files) {
      const parsed = protobuf.parse(readFileSync(file, "utf8"), { keepCase: true });
      const pkg = parsed.package;
      if (pkg === undefined || !pkg.startsWith(OVERLAY_PREFIX)) {
        throw new Error(`${file}: overlay package must start with "${OVERLAY_PREFIX}" followed by the Envoy package it extends`);
      }
      for (const imp of parsed.imports ?? []) this.load([imp]);
      const target = pkg.slice(OVERLAY_PREFIX.length);
      this.loadPackage(target);
      const targetNs = this.root.lookup(target);
      if (!(targetNs instanceof protobuf.Namespace)) {
        throw new Error(`${file}: Envoy package ${target} not found under the include paths; fix the overlay's package name`);
      }
      const overlayNs = parsed.root.lookup(pkg);
      if (!(overlayNs instanceof protobuf.Namespace)) continue;
      this.mergeNamespace(file, overlayNs, targetNs);
    }
    // resolveAll() skips namespaces it already resolved, so resolve what the overlay added.
    for (const field of this.overlayFields) field.resolve();
    this.root.resolveAll();
  }

  private mergeNamespace(file: string, from: protobuf.Namespace, into: protobuf.Namespace): void {
    for (const item of [...from.nestedArray]) {
      const existing = into.nested?.[item.name];
      if (existing === undefined) {
        from.remove(item);
        into.add(item);
        continue;
      }
      if (item instanceof protobuf.Enum && existing instanceof protobuf.Enum) {
        for (const [name, id] of Object.entries(item.values)) {
          if (existing.values[name] !== id) {
            throw new Error(`${file}: enum ${existing.fullName} value ${name}=${id} differs from Envoy's protos; fix the overlay`);
          }
        }
        continue;
      }
      if (item instanceof protobuf.Type && existing instanceof protobuf.Type) {
        for (const field of item.fieldsArray) {
          const sameName = existing.fields[field.name];
          const sameId = existing.fieldsArray.find((f) => f.id === field.id);
          if (sameName !== undefined && sameName.id === field.id) continue; // upstream caught up
          if (sameName !== undefined || sameId !== undefined) {
            throw new Error(
              `${file}: field ${existing.fullName}.${field.name} = ${field.id} collides with Envoy's ` +
                `${(sameName ?? sameId)!.name} = ${(sameName ?? sameId)!.id}; fix the overlay`,
            );
          }
          const added = new protobuf.Field(field.name, field.id, field.type, field.rule, undefined, field.options);
          existing.add(added);
          this.overlayFields.push(added);
        }
        this.mergeNamespace(file, item, existing);
        continue;
      }
      throw new Error(`${file}: ${item.name} is a different kind of object than ${existing.fullName}`);
    }
  }

  private checkMessage(type: protobuf.Type, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    const name = type.fullName.replace(/^\./, "");
    if (SPECIAL_JSON.has(name)) {
      this.checkWellKnown(name, value, path, issues);
      return;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      issues.push({ path: formatPath(path), message: `expected a mapping (${name}), got ${kindOf(value)}` });
      return;
    }
    this.checkFields(type, value as Record<string, unknown>, path, issues, new Set());
  }

  private checkFields(
    type: protobuf.Type,
    obj: Record<string, unknown>,
    path: PathSegment[],
    issues: ValidationIssue[],
    skip: ReadonlySet<string>,
  ): void {
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
        const names = type.fieldsArray.map((f) => f.name);
        issues.push({ path: formatPath(fieldPath), message: `unknown field in ${type.fullName.replace(/^\./, "")}${suggestion(key, names)}` });
        continue;
      }
      const previous = seen.get(field.name);
      if (previous !== undefined) {
        issues.push({ path: formatPath(fieldPath), message: `field ${field.name} is also set as "${previous}"; keep one spelling` });
        continue;
      }
      seen.set(field.name, key);
      const value = obj[key];
      if (value === null || value === undefined) continue; // proto3 JSON: null = default
      const oneof = field.partOf;
      if (oneof !== null && oneof !== undefined) {
        const other = oneofSet.get(oneof.name);
        if (other !== undefined) {
          issues.push({ path: formatPath(fieldPath), message: `"${field.name}" and "${other}" are both set but belong to oneof ${oneof.name}; set only one` });
        } else {
          oneofSet.set(oneof.name, field.name);
        }
      }
      this.checkField(field, value, fieldPath, issues);
      this.checkRules(field, value, fieldPath, issues);
    }
    this.checkPresence(type, obj, path, issues, seen, oneofSet);
  }

  /** protoc-gen-validate rules that fire when a field is absent (Envoy validates every config). */
  private checkPresence(
    type: protobuf.Type,
    obj: Record<string, unknown>,
    path: PathSegment[],
    issues: ValidationIssue[],
    seen: ReadonlyMap<string, string>,
    oneofSet: ReadonlyMap<string, string>,
  ): void {
    for (const oneof of type.oneofsArray) {
      if ((oneof.options as Record<string, unknown> | undefined)?.["(validate.required)"] === true && !oneofSet.has(oneof.name)) {
        issues.push({ path: formatPath(path), message: `one of ${oneof.fieldsArray.map((f) => f.name).join(", ")} is required (oneof ${oneof.name})` });
      }
    }
    for (const field of type.fieldsArray) {
      const key = seen.get(field.name);
      if (key !== undefined && obj[key] !== null && obj[key] !== undefined) continue;
      const rules = pgvRules(field);
      if (rules === undefined) continue;
      // PGV checks a oneof member's rules only when that member is the one set (RouteMatch's
      // safe_regex is `required` yet `prefix` may be chosen instead).
      if (field.partOf !== null && field.partOf !== undefined) continue;
      const where = formatPath([...path, field.name]);
      if (rules.message?.required === true) {
        issues.push({ path: where, message: `required field is missing (${type.fullName.replace(/^\./, "")})` });
      } else if (field.repeated && Number(rules.repeated?.min_items ?? 0) > 0) {
        issues.push({ path: where, message: `required: at least ${rules.repeated!.min_items} item(s)` });
      } else if (!field.repeated && field.partOf == null && field.resolvedType === null && field.type === "string") {
        const min = Number(rules.string?.min_len ?? rules.string?.min_bytes ?? 0);
        if (min > 0) issues.push({ path: where, message: `required: a string of at least ${min} character(s)` });
      }
    }
  }

  /** The value rules of protoc-gen-validate that matter most: lengths, item counts, numeric bounds. */
  private checkRules(field: protobuf.Field, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    const rules = pgvRules(field);
    if (rules === undefined) return;
    const where = formatPath(path);
    if (field.repeated && Array.isArray(value)) {
      const min = Number(rules.repeated?.min_items ?? 0);
      const max = rules.repeated?.max_items;
      if (value.length < min) issues.push({ path: where, message: `needs at least ${min} item(s), has ${value.length}` });
      if (max !== undefined && value.length > Number(max)) issues.push({ path: where, message: `allows at most ${max} item(s), has ${value.length}` });
      return;
    }
    if (typeof value === "string" && rules.string !== undefined) {
      const min = Number(rules.string.min_len ?? rules.string.min_bytes ?? 0);
      if (value.length < min) issues.push({ path: where, message: `must be at least ${min} character(s)` });
      return;
    }
    for (const kind of Object.keys(INT_RANGES).concat(["double", "float"])) {
      const r = (rules as Record<string, Record<string, unknown> | undefined>)[kind];
      if (r === undefined || (typeof value !== "number" && typeof value !== "string")) continue;
      const n = Number(value);
      if (Number.isNaN(n)) continue;
      const bound = (k: string): number | undefined => (r[k] === undefined ? undefined : Number(r[k]));
      const [gt, gte, lt, lte] = [bound("gt"), bound("gte"), bound("lt"), bound("lte")];
      if ((gt !== undefined && !(n > gt)) || (gte !== undefined && !(n >= gte)) || (lt !== undefined && !(n < lt)) || (lte !== undefined && !(n <= lte))) {
        const parts = [gt !== undefined ? `> ${gt}` : "", gte !== undefined ? `>= ${gte}` : "", lt !== undefined ? `< ${lt}` : "", lte !== undefined ? `<= ${lte}` : ""].filter(Boolean);
        issues.push({ path: where, message: `${n} must be ${parts.join(" and ")}` });
      }
    }
  }

  private checkField(field: protobuf.Field, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    if (field.map) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        issues.push({ path: formatPath(path), message: `expected a mapping (map<${(field as unknown as protobuf.MapField).keyType}, ${field.type}>), got ${kindOf(value)}` });
        return;
      }
      const keyType = (field as unknown as protobuf.MapField).keyType;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (keyType !== "string" && keyType !== "bool" && !/^-?\d+$/.test(k)) {
          issues.push({ path: formatPath([...path, k]), message: `map key must be an integer (${keyType})` });
        }
        this.checkSingle(field, v, [...path, k], issues);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        issues.push({ path: formatPath(path), message: `expected a list of ${field.type}, got ${kindOf(value)}` });
        return;
      }
      value.forEach((v, i) => this.checkSingle(field, v, [...path, i], issues));
      return;
    }
    this.checkSingle(field, value, path, issues);
  }

  private checkSingle(field: protobuf.Field, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      this.checkMessage(resolved, value, path, issues);
    } else if (resolved instanceof protobuf.Enum) {
      this.checkEnum(resolved, value, path, issues);
    } else {
      this.checkScalar(field.type, value, path, issues);
    }
  }

  private checkEnum(e: protobuf.Enum, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    if (typeof value === "string" && value in e.values) return;
    if (typeof value === "number" && Object.values(e.values).includes(value)) return;
    issues.push({
      path: formatPath(path),
      message: `${JSON.stringify(value)} is not a value of enum ${e.fullName.replace(/^\./, "")}; valid: ${Object.keys(e.values).join(", ")}`
        + (typeof value === "string" ? suggestion(value, Object.keys(e.values)) : ""),
    });
  }

  private checkScalar(type: string, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    const bad = (expected: string): void => {
      issues.push({ path: formatPath(path), message: `expected ${expected}, got ${kindOf(value)}` });
    };
    switch (type) {
      case "string":
        if (typeof value !== "string") bad("a string");
        return;
      case "bool":
        if (typeof value !== "boolean") bad("true or false");
        return;
      case "bytes":
        if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) bad("base64 bytes");
        return;
      case "double":
      case "float":
        if (typeof value === "number") return;
        if (typeof value === "string" && (/^-?(Infinity|NaN)$/.test(value) || (value.trim() !== "" && !Number.isNaN(Number(value))))) return;
        bad(`a number (${type})`);
        return;
      default: {
        const range = INT_RANGES[type];
        if (range === undefined) {
          bad(`a value of unsupported scalar type ${type}`);
          return;
        }
        let n: bigint | undefined;
        if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
        else if (typeof value === "string" && /^-?\d+$/.test(value)) n = BigInt(value);
        if (n === undefined) {
          bad(`an integer (${type})`);
        } else if (n < range[0] || n > range[1]) {
          issues.push({ path: formatPath(path), message: `${n} is out of range for ${type} [${range[0]}, ${range[1]}]` });
        }
      }
    }
  }

  private checkWellKnown(name: string, value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    const wrapped = WRAPPERS[name];
    if (wrapped !== undefined) {
      this.checkScalar(wrapped, value, path, issues);
      return;
    }
    switch (name) {
      case "google.protobuf.Duration":
        if (typeof value !== "string" || !/^-?\d+(\.\d{1,9})?s$/.test(value)) {
          issues.push({ path: formatPath(path), message: `expected a duration such as "5s" or "0.250s", got ${kindOf(value)}` });
        }
        return;
      case "google.protobuf.Timestamp":
        if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
          issues.push({ path: formatPath(path), message: `expected an RFC 3339 timestamp, got ${kindOf(value)}` });
        }
        return;
      case "google.protobuf.FieldMask":
        if (typeof value !== "string") issues.push({ path: formatPath(path), message: `expected a field mask string, got ${kindOf(value)}` });
        return;
      case "google.protobuf.Struct":
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          issues.push({ path: formatPath(path), message: `expected a mapping (google.protobuf.Struct), got ${kindOf(value)}` });
        }
        return;
      case "google.protobuf.ListValue":
        if (!Array.isArray(value)) issues.push({ path: formatPath(path), message: `expected a list (google.protobuf.ListValue), got ${kindOf(value)}` });
        return;
      case "google.protobuf.Value":
        return;
      case "google.protobuf.Any":
        this.checkAny(value, path, issues);
        return;
    }
  }

  private checkAny(value: unknown, path: PathSegment[], issues: ValidationIssue[]): void {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      issues.push({ path: formatPath(path), message: `expected a mapping with "@type" (google.protobuf.Any), got ${kindOf(value)}` });
      return;
    }
    const obj = value as Record<string, unknown>;
    const typeUrl = obj["@type"];
    if (typeof typeUrl !== "string") {
      issues.push({ path: formatPath([...path, "@type"]), message: `missing "@type": an Any needs "type.googleapis.com/<message>"` });
      return;
    }
    const slash = typeUrl.lastIndexOf("/");
    const typeName = slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
    if (slash < 0) {
      issues.push({ path: formatPath([...path, "@type"]), message: `type URL ${JSON.stringify(typeUrl)} has no "/"; write ${TYPE_URL_PREFIX}${typeUrl}` });
    }
    const type = this.findType(typeName);
    if (type === undefined) {
      issues.push({ path: formatPath([...path, "@type"]), message: `unknown type ${typeName}: no .proto under the include paths or overlay defines it` });
      return;
    }
    if (SPECIAL_JSON.has(typeName)) {
      for (const key of Object.keys(obj)) {
        if (key !== "@type" && key !== "value") {
          issues.push({ path: formatPath([...path, key]), message: `unknown field in an Any holding ${typeName}: its JSON form goes in "value"` });
        }
      }
      if ("value" in obj) this.checkWellKnown(typeName, obj["value"], [...path, "value"], issues);
      return;
    }
    this.checkFields(type, obj, path, issues, new Set(["@type"]));
  }
}

/** Validates with the shared validator and throws EnvoyConfigError listing every issue. */
export function assertValidEnvoy(value: unknown, typeName: string = BOOTSTRAP_TYPE): void {
  const issues = EnvoyValidator.shared().validate(value, typeName);
  if (issues.length > 0) throw new EnvoyConfigError(issues);
}

/** Validates a YAML file with the shared validator. */
export function validateEnvoyFile(file: string): ValidationIssue[] {
  return EnvoyValidator.shared().validateFile(resolve(file));
}

interface PgvRules {
  readonly message?: { readonly required?: boolean };
  readonly string?: { readonly min_len?: number | string; readonly min_bytes?: number | string };
  readonly repeated?: { readonly min_items?: number | string; readonly max_items?: number | string };
  readonly [kind: string]: unknown;
}

/** The `(validate.rules)` option of a field, as protobufjs parsed it. */
function pgvRules(field: protobuf.Field): PgvRules | undefined {
  const parsed = (field as unknown as { parsedOptions?: Array<Record<string, unknown>> | null }).parsedOptions;
  if (!Array.isArray(parsed)) return undefined;
  let merged: Record<string, unknown> | undefined;
  for (const opt of parsed) {
    const rules = opt["(validate.rules)"];
    if (rules !== null && typeof rules === "object") merged = { ...merged, ...(rules as Record<string, unknown>) };
  }
  return merged as PgvRules | undefined;
}

function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  for (const m of path.matchAll(re)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1]!);
  }
  return out;
}

/** Offset of the key (for a mapping entry) or value the path names, as deep as the YAML goes. */
function locate(node: YamlNode | null, path: readonly PathSegment[]): number | undefined {
  let current: unknown = node;
  let offset = (node as { range?: [number, number, number] } | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) return offset;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      current = pair.value;
    } else if (isSeq(current) && typeof seg === "number") {
      const item = current.items[seg];
      if (item === undefined) return offset;
      offset = (item as { range?: [number, number, number] }).range?.[0] ?? offset;
      current = item;
    } else {
      return offset;
    }
  }
  return offset;
}
