#!/usr/bin/env node
// Node 20's test runner takes no globs, so collect every test/**/*.test.ts here and hand the
// list to one `node --test` run; its summary is the last thing CI prints.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures") continue;
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : collect("test");
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
