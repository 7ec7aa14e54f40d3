/**
 * A strict parser for the Prometheus text exposition format 0.0.4 (prometheus/docs
 * content/docs/instrumenting/exposition_formats.md), strict where Prometheus' own parser
 * (prometheus/prometheus model/textparse/promparse.go) and the client_golang text parser
 * (prometheus/common expfmt/text_parse.go) are strict: one `# TYPE` per family, TYPE before the
 * family's samples, a family's lines in one group, no repeated series, label escapes only
 * `\\`, `\"`, `\n`, histogram buckets with `le`. A scrape this rejects is a failed scrape.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export class ExpositionError extends Error {}

function familyOf(sample: string, types: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base)?.type;
      if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
    }
  }
  return sample;
}

function parseValue(s: string, line: number): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new ExpositionError(`line ${line}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

function parseLabels(s: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 0;
  for (;;) {
    while (s[i] === " ") i++;
    if (s[i] === "}") return { labels, rest: s.slice(i + 1) };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m || !LABEL_NAME.test(m[0])) throw new ExpositionError(`line ${line}: bad label name at ${JSON.stringify(s.slice(i))}`);
    const name = m[0];
    i += name.length;
    if (s[i] !== "=" || s[i + 1] !== '"') throw new ExpositionError(`line ${line}: label ${name} lacks ="`);
    i += 2;
    let value = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new ExpositionError(`line ${line}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else throw new ExpositionError(`line ${line}: bad escape \\${e} in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (name in labels) throw new ExpositionError(`line ${line}: label ${name} repeated`);
    labels[name] = value;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new ExpositionError(`line ${line}: expected , or } after label ${name}`);
  }
}

/** Parses the whole text; throws ExpositionError naming the line and the rule broken. */
export function parsePrometheusText(text: string): Family[] {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seriesSeen = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) throw new ExpositionError("text does not end with a newline");
  const enter = (name: string, ln: number): void => {
    if (current === name) return;
    if (current !== undefined) closed.add(current);
    if (closed.has(name)) throw new ExpositionError(`line ${ln}: family ${name} appears in two groups`);
    current = name;
  };
  for (let n = 0; n < lines.length; n++) {
    const ln = n + 1;
    const line = lines[n]!;
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+(TYPE|HELP)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kw, name, rest] = m;
      if (!METRIC_NAME.test(name!)) throw new ExpositionError(`line ${ln}: bad metric name ${name}`);
      if (kw === "HELP") continue;
      if (!TYPES.has(rest ?? "")) throw new ExpositionError(`line ${ln}: bad type ${rest}`);
      if (families.has(name!)) throw new ExpositionError(`line ${ln}: second TYPE line for ${name}`);
      enter(name!, ln);
      families.set(name!, { name: name!, type: rest as Family["type"], samples: [] });
      continue;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) throw new ExpositionError(`line ${ln}: bad sample line ${JSON.stringify(line)}`);
    const sampleName = nm[0];
    let rest = line.slice(sampleName.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) ({ labels, rest } = parseLabels(rest.slice(1), ln));
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(" ") || parts.length < 1 || parts.length > 2) throw new ExpositionError(`line ${ln}: bad value part ${JSON.stringify(rest)}`);
    const value = parseValue(parts[0]!, ln);
    const fam = familyOf(sampleName, families);
    enter(fam, ln);
    let f = families.get(fam);
    if (!f) families.set(fam, (f = { name: fam, type: "untyped", samples: [] }));
    if (f.type === "histogram" && sampleName.endsWith("_bucket") && labels.le === undefined) throw new ExpositionError(`line ${ln}: bucket without le`);
    const key = sampleName + JSON.stringify(Object.entries(labels).sort());
    if (seriesSeen.has(key)) throw new ExpositionError(`line ${ln}: series repeated: ${sampleName}${JSON.stringify(labels)}`);
    seriesSeen.add(key);
    f.samples.push({ name: sampleName, labels, value });
  }
  return [...families.values()];
}
