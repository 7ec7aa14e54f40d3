/**
 * The size section of `npm run bench`: every filter's release module by section, its goal
 * (docs/adr/0008-module-size-goals.md), and where the code bytes come from, by source module. The names come
 * from a second compile of the same release target with `--debug` (names added, code as in
 * release, to within a few bytes), made into a temporary directory.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { wasmAnatomy, type FunctionSize, type WasmAnatomy } from "./wasm-anatomy.js";

/** Issue 6's goal for a filter's release module: the sniffer and any filter without telemetry. */
export const FILTER_SIZE_GOAL = 64 * 1024;

/**
 * The goal for a filter that carries the telemetry engine (attribute bag, rules, handlers,
 * Istio labels): docs/adr/0008-module-size-goals.md says why it is larger.
 */
export const TELEMETRY_FILTER_SIZE_GOAL = 128 * 1024;

/** Filters that carry the telemetry engine. */
export const TELEMETRY_FILTERS: readonly string[] = ["dubbo", "http-telemetry", "tcp-stats", "thrift"];

/** The size goal of filter `name` (its folder under assembly/filters/). */
export function filterSizeGoal(name: string): number {
  return TELEMETRY_FILTERS.includes(name) ? TELEMETRY_FILTER_SIZE_GOAL : FILTER_SIZE_GOAL;
}

export interface ModuleShare {
  /** Source module (`assembly/runtime/json/index`, `~lib/util/number`…) or `(other)`. */
  readonly module: string;
  readonly bytes: number;
}

export interface FilterSize {
  readonly filter: string;
  readonly release: WasmAnatomy;
  /** Code bytes by source module, largest first; undefined when the names build failed. */
  readonly modules?: ModuleShare[];
  readonly largest?: FunctionSize[];
}

/** Filter folder names (assembly/filters/<name>/index.ts), sorted. */
export function filterNames(repo: string): string[] {
  const dir = path.join(repo, "assembly", "filters");
  return readdirSync(dir)
    .filter((n) => existsSync(path.join(dir, n, "index.ts")))
    .sort();
}

/** A function's source module: its name without the last path segment (`a/b/index/Class#m` → `a/b/index`). */
export function sourceModule(fn: string): string {
  const name = fn.replace(/^start:/, "");
  const slash = name.lastIndexOf("/");
  return slash < 0 ? "(other)" : name.slice(0, slash).replace(/\/(Array|StaticArray)<.*$/, "");
}

export function byModule(functions: readonly FunctionSize[]): ModuleShare[] {
  const m = new Map<string, number>();
  for (const f of functions) m.set(sourceModule(f.name), (m.get(sourceModule(f.name)) ?? 0) + f.bytes);
  return [...m].map(([module, bytes]) => ({ module, bytes })).sort((a, b) => b.bytes - a.bytes || a.module.localeCompare(b.module));
}

/** Compiles `entry` with the release target plus `--debug` (function names) and returns its anatomy. */
async function namedRelease(repo: string, entry: string): Promise<WasmAnatomy | undefined> {
  const { default: asc } = await import("assemblyscript/asc");
  const dir = await mkdtemp(path.join(os.tmpdir(), "protomesh-size-"));
  const out = path.join(dir, "named.wasm");
  const cwd = process.cwd();
  try {
    // asc resolves `use abort=assembly/...` against the working directory (as scripts/build.mjs).
    process.chdir(repo);
    const stderr = asc.createMemoryStream();
    const result = await asc.main([entry, "--config", "asconfig.json", "--target", "release", "--debug", "--outFile", out], {
      stdout: asc.createMemoryStream(),
      stderr,
    });
    if (result.error) return undefined;
    return wasmAnatomy(await readFile(out));
  } finally {
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function measureFilterSizes(repo: string, buildDir: string): Promise<FilterSize[]> {
  const out: FilterSize[] = [];
  for (const filter of filterNames(repo)) {
    const wasm = path.join(buildDir, `${filter}.wasm`);
    if (!existsSync(wasm)) continue;
    const release = wasmAnatomy(await readFile(wasm));
    const named = await namedRelease(repo, `assembly/filters/${filter}/index.ts`);
    out.push({
      filter,
      release,
      modules: named ? byModule(named.functions) : undefined,
      largest: named ? [...named.functions].sort((a, b) => b.bytes - a.bytes).slice(0, 12) : undefined,
    });
  }
  return out;
}

/** Section bytes by name; custom sections summed as `custom`. */
export function sectionBytes(a: WasmAnatomy): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of a.sections) {
    const name = s.name.startsWith("custom:") ? "custom" : s.name;
    m.set(name, (m.get(name) ?? 0) + s.bytes);
  }
  return m;
}
