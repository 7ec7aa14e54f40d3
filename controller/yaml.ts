/**
 * YAML in and out of the controller.
 *
 * Out: deterministic YAML for everything the controller writes: keys sorted at every depth, YAML
 * 1.2 core schema pinned, no line folding, so rendering the same props twice gives the same bytes
 * and a diff of two renders shows only what changed.
 *
 * In: input files read and parsed with errors that name the file, line and column and say what
 * to do (a missing file, a folder, a syntax error, an empty file), never raw errno text.
 */
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, stringify, type Node as YamlNode } from "yaml";

/** A copy of `value` with object keys sorted (arrays keep their order; undefined entries dropped). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out as T;
  }
  return value;
}

/** Renders one YAML document with sorted keys and the pinned schema. */
export function toYaml(value: unknown, header?: string): string {
  const body = stringify(sortKeys(value), {
    version: "1.2",
    schema: "core",
    sortMapEntries: true,
    lineWidth: 0,
    indentSeq: true,
    aliasDuplicateObjects: false,
  });
  if (header === undefined) return body;
  return header.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n") + "\n" + body;
}

/** A problem with an input file: a sentence naming the file (and line/column when known) and the fix. */
export class InputFileError extends Error {
  constructor(readonly file: string, readonly problem: string, readonly line?: number, readonly column?: number) {
    super(`${file}${line !== undefined ? `:${line}:${column ?? 1}` : ""}: ${problem}`);
    this.name = "InputFileError";
  }
}

/** Reads a text file; a missing file or a folder comes out as an InputFileError saying what to pass instead. */
export function readInputFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    switch (code) {
      case "ENOENT":
        throw new InputFileError(file, "no such file; check the path (relative paths start at the current folder)");
      case "EISDIR":
        throw new InputFileError(file, `is a folder, not a file; pass the YAML files in it, e.g. ${file.replace(/\/+$/, "")}/*.yaml`);
      case "EACCES":
        throw new InputFileError(file, "cannot be read: permission denied; check the file's permissions");
      default:
        throw new InputFileError(file, `cannot be read (${code ?? (err as Error).message})`);
    }
  }
}

/** One YAML document with a way back from a field path to its line and column. */
export interface LocatedYaml {
  readonly value: unknown;
  /** 1-based line and column of the key (or list item) that `path` names, as deep as the YAML goes. */
  locate(path: readonly (string | number)[]): { readonly line: number; readonly column: number } | undefined;
}

/**
 * Parses one YAML document (YAML 1.2, duplicate keys refused). Syntax errors, an empty file and a
 * file of several documents become InputFileErrors naming the file, line and column.
 */
export function parseLocatedYaml(text: string, file: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, version: "1.2" });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    const e = doc.errors[0];
    if (e !== undefined) {
      const pos = e.linePos?.[0];
      throw new InputFileError(file, `YAML syntax error: ${yamlMessage(e.message)}`, pos?.line, pos?.col);
    }
  }
  if (list.length > 1) {
    const second = lineCounter.linePos(list[1]!.range[0]);
    throw new InputFileError(file, `holds ${list.length} YAML documents (separated by ---); an Envoy config file holds one`, second.line, second.col);
  }
  const doc = list[0];
  if (doc === undefined || doc.contents === null) {
    throw new InputFileError(file, "is empty (nothing but blanks or comments); expected a YAML mapping such as an Envoy bootstrap");
  }
  return {
    value: doc.toJS({ maxAliasCount: 100 }),
    locate(path) {
      const offset = locateOffset(doc.contents, path);
      if (offset === undefined) return undefined;
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}

/** The yaml library's first line, without its own "at line L, column C:" (we print file:line:column). */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0]!.trim();
  return first.replace(/\s*at line \d+, column \d+:?$/, "").replace(/:$/, "");
}

type Ranged = { range?: [number, number, number] };

function locateOffset(node: YamlNode | null, path: readonly (string | number)[]): number | undefined {
  let current: unknown = node;
  let offset = (node as Ranged | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) return offset;
      offset = (pair.key as Ranged).range?.[0] ?? offset;
      current = pair.value;
    } else if (isSeq(current) && typeof seg === "number") {
      const item = current.items[seg];
      if (item === undefined) return offset;
      offset = (item as Ranged).range?.[0] ?? offset;
      current = item;
    } else {
      return offset;
    }
  }
  return offset;
}
