/**
 * Validates Envoy configuration objects (proto3 JSON / YAML shape) against Envoy's own protos:
 * what Envoy's JSON parser rejects (unknown fields at any depth, including inside every Any;
 * value kinds and ranges; enum names; oneof exclusivity; well-known-type forms) and every
 * protoc-gen-validate rule the protos carry (`validate.rules`, required oneofs), which Envoy
 * enforces at load. The parts:
 *
 * - proto-registry.ts: loads Envoy's protos (@grpc/grpc-js-xds, about Envoy 1.30) lazily, merges
 *   the overlay of newer fields (controller/envoy/overlay, docs/adr/0003), resolves Any types;
 * - config-walker.ts: walks a config against a message type;
 * - json-forms.ts, pgv-rules.ts: the value checks it applies;
 * - wasm-configs.ts: the Wasm plugins a config holds, for checks of their own.
 *
 * Not checked: the semantic rules Envoy applies in code (e.g. tcp_proxy's 1.38 rule that a
 * non-IMMEDIATE connect mode needs max_early_data_bytes; controller/envoy/tcp-proxy.ts has it).
 */
import { resolve } from "node:path";
import type protobuf from "protobufjs";
import { InputFileError, parseLocatedYaml, readInputFile } from "../yaml.js";
import { ConfigWalker, type MessageVisitor } from "./config-walker.js";
import { BOOTSTRAP_TYPE, ProtoRegistry, type ProtoRegistryProps } from "./proto-registry.js";
import { EnvoyConfigError, parsePath, type ValidationIssue } from "./validation-issue.js";

export { BOOTSTRAP_TYPE } from "./proto-registry.js";
export type { MessageVisit, MessageVisitor } from "./config-walker.js";
export { jsonName } from "./suggest.js";
export { EnvoyConfigError, formatIssue, formatPath, type PathSegment, type ValidationIssue } from "./validation-issue.js";

export type EnvoyValidatorProps = ProtoRegistryProps;

/**
 * A check run after the proto walk, on the same config (e.g. each protomesh plugin's JSON
 * configuration, cluster references). Returns its issues; paths as in ValidationIssue.path.
 */
export type ExtraCheck = (config: unknown, context: ExtraCheckContext) => readonly ValidationIssue[];

export interface ExtraCheckContext {
  /** The message type the config was validated as. */
  readonly typeName: string;
  readonly validator: EnvoyValidator;
}

export interface ValidateOptions {
  /** @default BOOTSTRAP_TYPE */
  readonly typeName?: string;
  /** Run after the proto checks; their issues are returned with the others. @default [] */
  readonly extraChecks?: readonly ExtraCheck[];
}

export interface ValidateYamlOptions extends ValidateOptions {
  /** Named in issues. */
  readonly file?: string;
}

function options(o: string | ValidateOptions | undefined): ValidateOptions {
  return typeof o === "string" ? { typeName: o } : o ?? {};
}

export class EnvoyValidator {
  private static sharedInstance: EnvoyValidator | undefined;

  /** One validator per process: loading the protos costs ~100 ms. */
  static shared(): EnvoyValidator {
    EnvoyValidator.sharedInstance ??= new EnvoyValidator();
    return EnvoyValidator.sharedInstance;
  }

  readonly registry: ProtoRegistry;
  private readonly walker: ConfigWalker;

  constructor(props: EnvoyValidatorProps = {}) {
    this.registry = new ProtoRegistry(props);
    this.walker = new ConfigWalker(this.registry);
  }

  /** Every issue of `value` as a message of `typeName` (default: Bootstrap), extra checks included. Empty = valid. */
  validate(value: unknown, typeNameOrOptions?: string | ValidateOptions): ValidationIssue[] {
    const o = options(typeNameOrOptions);
    const typeName = o.typeName ?? BOOTSTRAP_TYPE;
    const type = this.type(typeName);
    if (typeof type === "string") return [{ path: "", message: type }];
    const issues = this.walker.walk(type, value);
    for (const check of o.extraChecks ?? []) issues.push(...check(value, { typeName, validator: this }));
    return issues;
  }

  /** Walks `value` as `typeName` and shows `visitor` every message object reached (Any contents included). */
  visit(value: unknown, visitor: MessageVisitor, typeName: string = BOOTSTRAP_TYPE): void {
    const type = this.type(typeName);
    if (typeof type !== "string") this.walker.walk(type, value, visitor);
  }

  /** Parses YAML (one document) and validates it; issues carry the file, line and column. */
  validateYaml(text: string, opts: ValidateYamlOptions = {}): ValidationIssue[] {
    const file = opts.file ?? "(input)";
    let parsed;
    try {
      parsed = parseLocatedYaml(text, file);
    } catch (err) {
      if (err instanceof InputFileError) return [inputIssue(err, opts.file)];
      throw err;
    }
    return this.validate(parsed.value, opts).map((issue) => {
      const pos = parsed.locate(parsePath(issue.path));
      return { ...issue, file: opts.file, ...(pos === undefined ? {} : { line: pos.line, column: pos.column }) };
    });
  }

  /** Reads and validates a YAML file; an unreadable file is one issue saying why. */
  validateFile(file: string, typeNameOrOptions?: string | ValidateOptions): ValidationIssue[] {
    let text: string;
    try {
      text = readInputFile(file);
    } catch (err) {
      if (err instanceof InputFileError) return [inputIssue(err, file)];
      throw err;
    }
    return this.validateYaml(text, { ...options(typeNameOrOptions), file });
  }

  /** The names Envoy accepts for an enum, for error messages and tests. */
  enumValues(enumName: string): string[] {
    return this.registry.enumValues(enumName);
  }

  private type(typeName: string): protobuf.Type | string {
    const found = this.registry.lookupType(typeName);
    return "type" in found ? found.type : `unknown message type ${typeName}: ${found.problem}`;
  }
}

function inputIssue(err: InputFileError, file: string | undefined): ValidationIssue {
  return { path: "", message: err.problem, file: file ?? err.file, line: err.line, column: err.column };
}

/** Validates with the shared validator and throws EnvoyConfigError listing every issue. */
export function assertValidEnvoy(value: unknown, typeNameOrOptions?: string | ValidateOptions): void {
  const issues = EnvoyValidator.shared().validate(value, typeNameOrOptions);
  if (issues.length > 0) throw new EnvoyConfigError(issues);
}

/** Validates a YAML file with the shared validator. */
export function validateEnvoyFile(file: string, opts?: ValidateOptions): ValidationIssue[] {
  return EnvoyValidator.shared().validateFile(resolve(file), opts);
}
