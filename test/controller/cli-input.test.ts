import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../controller/cli.js";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = process.exitCode;
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  process.exitCode = saved;
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), "protomesh-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const committedTcpStats = new URL("../../envoy/tcp-stats.yaml", import.meta.url).pathname;

describe("CLI: rendered headers show the command that was run", () => {
  it("render envoy without --admin-address: the header has no 0.0.0.0 and no committed-file redirection", async () => {
    const r = await cli("render", "envoy", "--filter", "tcp-stats");
    assert.equal(r.code, 0, r.stderr);
    const [, command] = r.stdout.split("\n");
    assert.equal(command, "#   node --import tsx controller/cli.ts render envoy --filter tcp-stats");
    assert.match(r.stdout, /address: 127\.0\.0\.1\n\s+port_value: 9901/);
  });

  it("quotes arguments the shell would split, so the header can be pasted back", async () => {
    const r = await cli("render", "envoy", "--filter", "tcp-stats", "--listen-port", "10001", "--wasm-dir", "/opt/it's wasm");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[1], `#   node --import tsx controller/cli.ts render envoy --filter tcp-stats --listen-port 10001 --wasm-dir '/opt/it'\\''s wasm'`);
  });

  it("the committed file's own command keeps its redirection", async () => {
    const r = await cli("render", "envoy", "--filter", "tcp-stats", "--admin-address", "0.0.0.0");
    assert.equal(r.stdout.split("\n")[1], readFileSync(committedTcpStats, "utf8").split("\n")[1]);
    assert.match(r.stdout.split("\n")[1]!, / > envoy\/tcp-stats\.yaml$/);
  });

  it("render istio headers carry the command too", async () => {
    const r = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[1], "#   node --import tsx controller/cli.ts render istio --filter tcp-stats --port 9080");
  });
});

describe("CLI: validate input errors name the file and the fix", () => {
  it("a missing file: a sentence naming the path, no errno text", async () => {
    const missing = join(dir, "nope.yaml");
    const r = await cli("validate", missing);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `${missing}: no such file; check the path (relative paths start at the current folder)\n`);
  });

  it("a folder: says to pass the files in it", async () => {
    const r = await cli("validate", dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `${dir}: is a folder, not a file; pass the YAML files in it, e.g. ${dir}/*.yaml\n`);
  });

  it("an empty file (or one of comments only) names the file and what was expected", async () => {
    for (const text of ["", "# just a comment\n\n"]) {
      const f = file("empty.yaml", text);
      const r = await cli("validate", f);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `${f}: is empty (nothing but blanks or comments); expected a YAML mapping such as an Envoy bootstrap\n`);
    }
  });

  it("a YAML syntax error names file, line and column and does not end in a colon", async () => {
    const f = file("broken.yaml", "admin:\n  address: [1, 2\nstatic_resources: {}\n");
    const r = await cli("validate", f);
    assert.equal(r.code, 1);
    const line = r.stderr.trimEnd();
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
    assert.match(line, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: YAML syntax error: \\S`));
    assert.doesNotMatch(line, /:$/);
    assert.doesNotMatch(line, /at line \d+, column \d+/);
  });

  it("several documents in one file are refused, pointing at the second", async () => {
    const f = file("two.yaml", "admin: {}\n---\nadmin: {}\n");
    const r = await cli("validate", f);
    assert.equal(r.stderr, `${f}:2:1: holds 2 YAML documents (separated by ---); an Envoy config file holds one\n`);
  });

  it("validates several files, reporting each by the path given, with line and column", async () => {
    const bad = file("bad.yaml", readFileSync(committedTcpStats, "utf8").replace("stat_prefix: tcp-stats", "stat_prefix: \"\""));
    const r = await cli("validate", committedTcpStats, bad);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `${committedTcpStats}: valid Envoy bootstrap\n`);
    assert.match(r.stderr, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: static_resources\\.listeners\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[1\\]\\.typed_config\\.stat_prefix: "" violates string\\.min_len 1\\n$`));
  });
});
