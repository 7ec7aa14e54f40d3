#!/usr/bin/env node
// Builds every AssemblyScript filter and fixture (release + debug) and the C null filter.
// Compiles run in worker threads (asc's JS API is synchronous CPU work), one per core.
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { CASES_TS, writeFieldCases } from "./field-cases.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

if (!isMainThread) {
  const { default: asc } = await import("assemblyscript/asc");
  parentPort.on("message", async (job) => {
    const stderr = asc.createMemoryStream();
    const stdout = asc.createMemoryStream();
    const args = [job.entry, "--config", "asconfig.json", "--target", job.target, "--outFile", job.out];
    if (job.runtime) args.push("--runtime", job.runtime);
    const result = await asc.main(args, { stdout, stderr });
    parentPort.postMessage({
      out: job.out,
      ok: !result.error,
      error: result.error ? String(result.error.message ?? result.error) : "",
      diagnostics: stderr.toString(),
    });
  });
} else {
  // asc resolves `use abort=assembly/...` and outputs against the working directory.
  process.chdir(root);
  await main();
}

function entriesUnder(dir) {
  const abs = path.join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((name) => existsSync(path.join(abs, name, "index.ts")))
    .sort()
    .map((name) => ({ name, entry: `${dir}/${name}/index.ts` }));
}

/**
 * A fixture that does not export the proxy-wasm ABI layer (a codec driver whose exports JS calls
 * directly) has no safe point where our layer collects (assembly/runtime/gc.ts), and nothing
 * else calls `__collect`: it keeps the incremental runtime, which collects by itself
 * (docs/adr/0006-minimal-runtime.md). Filters and ABI fixtures use asconfig.json's runtime, and
 * so does a driver that calls `__collect` at its own safe points (test/fixtures/dubbo-codec: its
 * bench then times the decoder as a filter compiles it).
 */
function directDriver(entry) {
  const text = readFileSync(path.join(root, entry), "utf8");
  return !text.includes("runtime/exports") && !text.includes("__collect()");
}

function kib(file) {
  return `${(statSync(path.join(root, file)).size / 1024).toFixed(1)} KiB`;
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, cmd))) return true;
  }
  return false;
}

function buildNullC() {
  const src = "bench/null-c/null.c";
  const out = "build/fixtures/null-c.wasm";
  if (!existsSync(path.join(root, src))) {
    console.warn(`warning: ${src} not found; skipping ${out}`);
    return Promise.resolve(true);
  }
  if (!which("clang")) {
    console.warn(`warning: clang not on PATH; skipping ${out}`);
    return Promise.resolve(true);
  }
  const args = ["--target=wasm32", "-nostdlib", "-O3", "-Wl,--no-entry", "-Wl,--export-dynamic",
    "-Wl,--allow-undefined", "-o", out, src];
  return new Promise((resolve) => {
    execFile("clang", args, { cwd: root }, (err, _stdout, stderr) => {
      if (err) {
        console.error(`FAILED ${out}\n${stderr || err.message}`);
        resolve(false);
      } else {
        console.log(`${out} ${kib(out)}`);
        resolve(true);
      }
    });
  });
}

async function main() {
  mkdirSync(path.join(root, "build/fixtures"), { recursive: true });
  if (writeFieldCases(root)) console.log(`${CASES_TS} regenerated`);
  const jobs = [];
  for (const { name, entry } of entriesUnder("assembly/filters")) {
    jobs.push({ entry, target: "release", out: `build/${name}.wasm` });
    jobs.push({ entry, target: "debug", out: `build/${name}.debug.wasm` });
  }
  for (const { name, entry } of entriesUnder("test/fixtures")) {
    const runtime = directDriver(entry) ? "incremental" : undefined;
    jobs.push({ entry, target: "release", out: `build/fixtures/${name}.wasm`, runtime });
    jobs.push({ entry, target: "debug", out: `build/fixtures/${name}.debug.wasm`, runtime });
  }

  const cNull = buildNullC();
  const poolSize = Math.max(1, Math.min(availableParallelism(), jobs.length));
  let next = 0;
  let failed = 0;
  const runWorker = () =>
    new Promise((resolve, reject) => {
      const worker = new Worker(fileURLToPath(import.meta.url));
      const take = () => {
        if (next >= jobs.length) {
          worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage(jobs[next++]);
      };
      worker.on("message", (r) => {
        if (r.ok) {
          console.log(`${r.out} ${kib(r.out)}`);
        } else {
          failed++;
          console.error(`FAILED ${r.out}: ${r.error}\n${r.diagnostics}`);
        }
        take();
      });
      worker.on("error", reject);
      worker.on("online", take);
    });
  await Promise.all(Array.from({ length: poolSize }, runWorker));
  if (!(await cNull)) failed++;
  if (failed > 0) {
    console.error(`build failed: ${failed} output(s)`);
    process.exit(1);
  }
}
