/**
 * Loading filters into the host emulator and driving them through its public API, shared by
 * `npm run bench`, `npm run fuzz` and test/bench/harness.test.ts (bench/ and fuzz/ both import
 * tools/harness/, never each other).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Host } from "../../test/host/index.js";
import { FilterState, type ConnectionInfo, type ReadFilterCallbacks } from "../../test/host/types.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const BUILD = path.join(REPO, "build");

export type Plugin = Awaited<ReturnType<Host["loadPlugin"]>>;

export interface FilterSpec {
  /** Name in reports; also the plugin name and vm id. */
  readonly name: string;
  /** Absolute path of the release `.wasm`. */
  readonly wasm: string;
  readonly rootId: string;
  readonly configuration?: string;
}

/** The three filters every bench section compares. */
export function benchFilters(): FilterSpec[] {
  return [
    { name: "null-c", wasm: path.join(BUILD, "fixtures", "null-c.wasm"), rootId: "null-c" },
    { name: "null", wasm: path.join(BUILD, "fixtures", "null.wasm"), rootId: "null" },
    { name: "tcp-stats", wasm: path.join(BUILD, "tcp-stats.wasm"), rootId: "tcp-stats" },
  ];
}

/**
 * `--filter` values: a path to a `.wasm`, a product filter (`build/<name>.wasm`) or a fixture
 * (`build/fixtures/<name>.wasm`). The root id is the module's folder name (contract).
 */
export function resolveFilter(nameOrPath: string, configuration?: string): FilterSpec {
  if (nameOrPath.endsWith(".wasm")) {
    const wasm = path.resolve(nameOrPath);
    const name = path.basename(wasm).replace(/(\.debug)?\.wasm$/, "");
    return { name, wasm, rootId: name, configuration };
  }
  for (const wasm of [path.join(BUILD, `${nameOrPath}.wasm`), path.join(BUILD, "fixtures", `${nameOrPath}.wasm`)]) {
    if (existsSync(wasm)) return { name: nameOrPath, wasm, rootId: nameOrPath, configuration };
  }
  throw new Error(
    `unknown filter "${nameOrPath}": neither build/${nameOrPath}.wasm nor build/fixtures/${nameOrPath}.wasm exists (run npm run build, or pass a path ending in .wasm)`,
  );
}

const run = promisify(execFile);

/**
 * scripts/build.mjs compiles bench/null-c/null.c when clang is present; this covers a build
 * that skipped it. Returns a note for the report when it had to compile, undefined otherwise.
 */
export async function ensureNullC(): Promise<string | undefined> {
  const out = path.join(BUILD, "fixtures", "null-c.wasm");
  if (existsSync(out)) return undefined;
  await mkdir(path.dirname(out), { recursive: true });
  const src = path.join(REPO, "bench", "null-c", "null.c");
  try {
    await run("clang", [
      "--target=wasm32", "-nostdlib", "-O3", "-Wl,--no-entry", "-Wl,--export-dynamic",
      "-Wl,--allow-undefined", "-o", out, src,
    ]);
  } catch (err) {
    throw new Error(`build/fixtures/null-c.wasm is missing and clang could not build ${src}: ${(err as Error).message}`);
  }
  return "build/fixtures/null-c.wasm was missing after npm run build; bench compiled it with clang";
}

export async function loadPlugin(host: Host, spec: FilterSpec): Promise<Plugin> {
  // One worker VM: every connection lands in the VM whose memory we watch.
  return host.loadPlugin({
    name: spec.name,
    wasm: spec.wasm,
    rootId: spec.rootId,
    vmId: spec.name,
    configuration: spec.configuration ?? "",
    vmCount: 1,
    failOpen: false,
  });
}

/** Largest memory of the plugin's VMs, in 64 KiB pages. */
export function pluginPages(plugin: Plugin): number {
  let pages = 0;
  for (const vm of plugin.vms) pages = Math.max(pages, vm.memoryPages());
  return pages;
}

export function pluginFailed(plugin: Plugin): boolean {
  for (const vm of plugin.vms) if (vm.failed) return true;
  return false;
}

let nextId = 1n;

/**
 * Callbacks for driving a NetworkFilter without a filter manager: the tightest loop the host
 * allows (what Envoy's ActiveReadFilter would pass). continueReading/closeConnection only
 * count, so a filter that calls them is still measured.
 */
export function readCallbacks(): ReadFilterCallbacks & { continued: number; closed: number } {
  const connection: ConnectionInfo = {
    id: nextId++,
    source: { host: "10.0.0.1", port: 50000 },
    destination: { host: "10.0.0.2", port: 8080 },
    requestedServerName: "",
    listenerDirection: "INBOUND",
    filterState: new FilterState(),
    filterChainName: "bench",
  };
  const callbacks = {
    connection,
    continued: 0,
    closed: 0,
    continueReading(): void {
      callbacks.continued++;
    },
    closeConnection(): void {
      callbacks.closed++;
    },
  };
  return callbacks;
}
