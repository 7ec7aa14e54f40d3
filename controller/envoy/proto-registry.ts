/**
 * Envoy's message types, loaded from .proto files as configs need them.
 *
 * Envoy's API protos ship in @grpc/grpc-js-xds (about Envoy 1.30). Fields added to Envoy since
 * then come from a local overlay (controller/envoy/overlay/*.proto, docs/adr/0003): every message
 * of a `protomesh.overlay.<envoy package>` package is merged into Envoy's message of the same
 * name, field options (the `validate.rules` annotations) included. A type URL names a message
 * whose package may not be loaded yet: `findType` loads that package's folder on first use.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** The message a standalone Envoy config file holds. */
export const BOOTSTRAP_TYPE = "envoy.config.bootstrap.v3.Bootstrap";

const OVERLAY_PREFIX = "protomesh.overlay.";
const ROOT_PROTO = join("envoy", "config", "bootstrap", "v3", "bootstrap.proto");

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export interface ProtoRegistryProps {
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

/** A message type, or why there is none. */
export type TypeLookup = { readonly type: protobuf.Type } | { readonly problem: string };

function defaultIncludePaths(): string[] {
  const xds = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(xds, "deps", d));
}

function defaultOverlayFiles(): string[] {
  const dir = join(here, "overlay");
  return readdirSync(dir).filter((f) => f.endsWith(".proto")).sort().map((f) => join(dir, f));
}

export class ProtoRegistry {
  readonly includePaths: readonly string[];
  private readonly overlayFiles: readonly string[];
  private readonly protobufjsDir = dirname(require.resolve("protobufjs/package.json"));
  private root!: protobuf.Root;
  /** Package folders tried, and the files of those that loaded (to rebuild the root after a failed load). */
  private readonly triedDirs = new Set<string>();
  private readonly loadedFiles: string[] = [];
  private readonly failedPackages = new Map<string, string>();

  constructor(props: ProtoRegistryProps = {}) {
    this.includePaths = props.includePaths ?? defaultIncludePaths();
    this.overlayFiles = props.overlayFiles ?? defaultOverlayFiles();
    this.rebuild();
  }

  /** Finds a message, loading its package folder on first use. */
  lookupType(fullName: string): TypeLookup {
    const name = fullName.replace(/^\./, "");
    let found = this.root.lookup(name);
    if (found === null) {
      const parts = name.split(".");
      for (let i = parts.length - 1; i > 0 && found === null; i--) {
        const pkg = parts.slice(0, i).join(".");
        const failed = this.failedPackages.get(pkg);
        if (failed !== undefined) return { problem: `the .proto files of package ${pkg} do not load: ${failed}` };
        const loaded = this.loadPackage(pkg);
        if (typeof loaded === "string") return { problem: `the .proto files of package ${pkg} do not load: ${loaded}` };
        if (loaded) found = this.root.lookup(name);
      }
    }
    if (found instanceof protobuf.Type) return { type: found };
    return { problem: `no .proto under the include paths or overlay defines message ${name}` };
  }

  /** The message type, or undefined (see lookupType for why). */
  findType(fullName: string): protobuf.Type | undefined {
    const r = this.lookupType(fullName);
    return "type" in r ? r.type : undefined;
  }

  /** The names an enum accepts. */
  enumValues(enumName: string): string[] {
    return Object.keys(this.root.lookupEnum(enumName).values);
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

  /**
   * A fresh root holding Envoy's Bootstrap, every package folder loaded so far and the overlay.
   * protobufjs cannot take back a half-loaded file, so a failed load starts over from here.
   */
  private rebuild(): void {
    this.root = new protobuf.Root();
    this.root.resolvePath = (_origin, target) => this.resolveImport(target);
    this.load([ROOT_PROTO, ...this.loadedFiles]);
    this.applyOverlay();
  }

  /** Loads every .proto of the folder holding `packageName`: true if loaded, false if absent, else the error. */
  private loadPackage(packageName: string): boolean | string {
    const rel = packageName.split(".").join("/");
    for (const dir of this.includePaths) {
      const abs = join(dir, rel);
      if (this.triedDirs.has(abs) || !existsSync(abs)) continue;
      this.triedDirs.add(abs);
      const protos = readdirSync(abs).filter((f) => f.endsWith(".proto")).sort().map((f) => join(rel, f));
      if (protos.length === 0) continue;
      try {
        this.load(protos);
      } catch (err) {
        const reason = (err as Error).message.split("\n")[0]!;
        this.failedPackages.set(packageName, reason);
        this.rebuild();
        return reason;
      }
      this.loadedFiles.push(...protos);
      return true;
    }
    return false;
  }

  private applyOverlay(): void {
    const added: protobuf.Field[] = [];
    for (const file of this.overlayFiles) {
      const parsed = protobuf.parse(readFileSync(file, "utf8"), { keepCase: true, alternateCommentMode: false });
      const pkg = parsed.package;
      if (pkg === undefined || !pkg.startsWith(OVERLAY_PREFIX)) {
        throw new Error(`${file}: overlay package must start with "${OVERLAY_PREFIX}" followed by the Envoy package it extends`);
      }
      if ((parsed.imports ?? []).length > 0) this.load(parsed.imports!);
      const target = pkg.slice(OVERLAY_PREFIX.length);
      this.loadPackage(target);
      const targetNs = this.root.lookup(target);
      if (!(targetNs instanceof protobuf.Namespace)) {
        throw new Error(`${file}: Envoy package ${target} not found under the include paths; fix the overlay's package name`);
      }
      const overlayNs = parsed.root.lookup(pkg);
      if (overlayNs instanceof protobuf.Namespace) mergeNamespace(file, overlayNs, targetNs, added);
    }
    // resolveAll() skips namespaces it already resolved, so resolve what the overlay added.
    for (const field of added) field.resolve();
    this.root.resolveAll();
  }
}

function mergeNamespace(file: string, from: protobuf.Namespace, into: protobuf.Namespace, added: protobuf.Field[]): void {
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
          const other = (sameName ?? sameId)!;
          throw new Error(`${file}: field ${existing.fullName}.${field.name} = ${field.id} collides with Envoy's ${other.name} = ${other.id}; fix the overlay`);
        }
        const copy = new protobuf.Field(field.name, field.id, field.type, field.rule, undefined, field.options);
        // The annotations (validate.rules) live in parsedOptions, which the constructor does not take.
        (copy as { parsedOptions?: unknown }).parsedOptions = (field as { parsedOptions?: unknown }).parsedOptions;
        existing.add(copy);
        added.push(copy);
      }
      mergeNamespace(file, item, existing, added);
      continue;
    }
    throw new Error(`${file}: ${item.name} is a different kind of object than ${existing.fullName}`);
  }
}
