/**
 * `npm run bench` section "Configuration parsing": each filter's on_configure time against the
 * configuration's size (10 to 100,000 entries, fuzz/config.ts sizedConfiguration) and the memory
 * it takes per entry. Timings are printed, never judged here (the fuzz target judges linearity).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { BUILD } from "../tools/harness/drive.js";
import { table } from "../tools/harness/markdown.js";
import { CONFIG_FILTERS, measureSizes, type SizeRow } from "../tools/harness/config.js";

export const CONFIG_HEADING = "## Configuration parsing (issue 11)";

const WHAT: Readonly<Record<string, string>> = {
  sniffer: "`allowed_destinations` with one entry holding N ports (accepted; every port read and checked)",
  "tcp-stats": "an object with N distinct keys (read in full, duplicate check per key, then refused at the first unknown field)",
};

export async function configBenchSection(maxEntries = 100_000): Promise<string> {
  const parts = [
    CONFIG_HEADING,
    "",
    "`proxy_on_configure` through the host emulator (one fresh VM per row, fastest of 5 calls (3 from 100 KB)). Memory is",
    "what the VM grew during the first call; AssemblyScript's allocator doubles memory when it grows, so",
    "per-entry figures are upper bounds. Limits (assembly/runtime/json LIMITS): 1 MiB per configuration,",
    "100,000 entries per array or object, 4096 bytes per string, nesting depth 64.",
  ];
  for (const filter of CONFIG_FILTERS) {
    const file = path.join(BUILD, `${filter}.wasm`);
    const module = await WebAssembly.compile(await readFile(file));
    const rows: SizeRow[] = await measureSizes(filter, module, maxEntries);
    parts.push("", `**${filter}**: ${WHAT[filter]}`, "", table(
      ["entries", "bytes", "on_configure", "per entry", "memory grown", "memory per entry"],
      rows.map((r) => [
        r.entries.toLocaleString("en-US"),
        r.bytes.toLocaleString("en-US"),
        r.micros >= 1000 ? `${(r.micros / 1000).toFixed(1)} ms` : `${r.micros.toFixed(0)} µs`,
        `${((r.micros * 1000) / r.entries).toFixed(0)} ns`,
        `${(r.pages * 64).toLocaleString("en-US")} KiB`,
        r.pages === 0 ? "–" : `≤ ${Math.round((r.pages * 65536) / r.entries)} B`,
      ]),
      ["r", "r", "r", "r", "r", "r"],
    ));
  }
  return parts.join("\n");
}
