/** Renders a GitHub-flavoured Markdown table; the same text is printed to the terminal. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly ("l" | "r")[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const pad = (cell: string, i: number) =>
    align?.[i] === "r" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => pad(c, i)).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (align?.[i] === "r" ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function ns(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";
}

export function bytes(value: number | undefined): string {
  return value === undefined ? "—" : value.toLocaleString("en-US");
}

/** BENCHMARKS.md's fuzz section: written by `npm run fuzz:sniffer`, kept by `npm run bench`. */
export const FUZZ_HEADING = "## Fuzz";

/** The `## heading` section of `doc` (through the line before the next `## `), or undefined. */
export function extractSection(doc: string, heading: string): string | undefined {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !lines[end]!.startsWith("## ")) end++;
  return lines.slice(start, end).join("\n").trimEnd();
}

/** `doc` with its `## heading` section replaced by `section` (appended when absent). */
export function replaceSection(doc: string, heading: string, section: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  if (start < 0) return `${doc.trimEnd()}\n\n${section.trimEnd()}\n`;
  let end = start + 1;
  while (end < lines.length && !lines[end]!.startsWith("## ")) end++;
  const after = lines.slice(end).join("\n");
  return `${[...lines.slice(0, start), section.trimEnd(), ""].join("\n")}${after ? `\n${after}` : ""}`.trimEnd() + "\n";
}
