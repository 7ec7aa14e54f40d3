/**
 * Envoy's CEL foreign functions `expr_create`, `expr_evaluate`, `expr_delete` (envoy
 * source/extensions/common/wasm/foreign.cc, compiled when WASM_USE_CEL_PARSER is defined:
 * source/extensions/common/wasm/BUILD sets it for every platform but windows_x86_64), for the
 * subset of CEL that protomesh's filters send. Envoy parses full CEL with cel-cpp; no maintained
 * npm CEL library evaluates against custom map wrappers with cel-cpp's error semantics, so this
 * is a small parser for exactly the subset below, and anything else is a parse error
 * (expr_create answers BadArgument, as Envoy does for a parse or compile error).
 *
 * Subset (CEL grammar names):
 *   expr    := or ('?' expr ':' expr)?               conditional, condition must be bool
 *   or      := and ('||' and)*                       logical or / and with CEL's error absorption:
 *   and     := rel ('&&' rel)*                         an error loses to a deciding operand
 *   rel     := unary (('==' | '!=' | 'in') unary)?   equality of same-typed scalars; `k in map`
 *   unary   := '!' unary | member
 *   member  := primary ('.' IDENT | '[' expr ']')*   field select / index (map key lookup)
 *   primary := IDENT | 'has' '(' member '.' IDENT ')' | STRING | INT | UINT | 'true' | 'false'
 *            | '{' (expr ':' expr (',' expr ':' expr)* ','?)? '}' | '(' expr ')'
 * STRING: single or double quoted, escapes \\ \' \" \n \t; INT decimal; UINT decimal with `u`.
 *
 * Evaluation: identifiers are the activation's top-level names (Context::FindValue →
 * findValue, the same as proxy_get_property: properties.ts celTopLevel); an unknown identifier,
 * a select or index of an absent key, or a type mismatch is an error, and an error result makes
 * expr_evaluate answer InternalFailure. `has(m.f)` and `k in m` test presence (cel-cpp CelMap::Has
 * asks operator[]: a header absent from HeadersWrapper, a field an attribute wrapper does not
 * answer, are absent). The value is serialized as context.cc serializeValue does (cel.ts
 * serializeCel), map literals included.
 *
 * Tokens: expr_create stores the expression in the current ROOT context's store
 * (getOrCreateContext(current_context_->root_context())), tokens counting from 0 and skipping
 * ones in use; expr_evaluate and expr_delete look in the calling context's root's store, so a
 * token made by one plugin is unknown to another. Envoy 1.37, 1.38 and 1.39 do not differ here.
 */
import { WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import { celTopLevel, type CelValue as Value } from "./properties.js";

type Node =
  | { readonly k: "lit"; readonly v: Value }
  | { readonly k: "ident"; readonly name: string }
  | { readonly k: "select"; readonly operand: Node; readonly field: string; readonly test: boolean }
  | { readonly k: "index"; readonly operand: Node; readonly key: Node }
  | { readonly k: "map"; readonly entries: ReadonlyArray<readonly [Node, Node]> }
  | { readonly k: "cond"; readonly c: Node; readonly a: Node; readonly b: Node }
  | { readonly k: "not"; readonly x: Node }
  | { readonly k: "bin"; readonly op: "==" | "!=" | "in" | "&&" | "||"; readonly l: Node; readonly r: Node };

/** A CEL error value: evaluation goes on (|| and && may absorb it), the final result fails. */
class CelError {
  constructor(readonly message: string) {}
}

type Result = Value | CelError;

const TOKEN = /\s*(?:(\d+u?)|([A-Za-z_][A-Za-z0-9_]*)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(\|\||&&|==|!=|[?:.,[\](){}!]))/y;

type Tok = { readonly t: "int" | "ident" | "str" | "op"; readonly v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  for (;;) {
    if (/^\s*$/.test(src.slice(at))) return out;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) throw new SyntaxError(`unexpected character at offset ${at}: ${JSON.stringify(src.slice(at).trimStart().slice(0, 10))}`);
    at = TOKEN.lastIndex;
    if (m[1]) out.push({ t: "int", v: m[1] });
    else if (m[2]) out.push({ t: "ident", v: m[2] });
    else if (m[3]) out.push({ t: "str", v: unquote(m[3]) });
    else out.push({ t: "op", v: m[4] });
  }
}

function unquote(s: string): string {
  return s.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => {
    const e: Record<string, string> = { n: "\n", t: "\t", "\\": "\\", "'": "'", '"': '"' };
    if (!(c in e)) throw new SyntaxError(`unsupported escape \\${c}`);
    return e[c];
  });
}

const RESERVED = new Set(["true", "false", "null", "in", "has"]);

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): Node {
    const n = this.expr();
    if (this.i < this.toks.length) throw new SyntaxError(`unexpected ${JSON.stringify(this.toks[this.i].v)}`);
    return n;
  }

  private peek(v: string): boolean {
    const t = this.toks[this.i];
    return t !== undefined && (t.t === "op" || t.t === "ident") && t.v === v;
  }

  private eat(v: string): boolean {
    if (!this.peek(v)) return false;
    this.i++;
    return true;
  }

  private want(v: string): void {
    if (!this.eat(v)) throw new SyntaxError(`expected ${JSON.stringify(v)} at token ${this.i}`);
  }

  private expr(): Node {
    const c = this.or();
    if (!this.eat("?")) return c;
    const a = this.expr();
    this.want(":");
    return { k: "cond", c, a, b: this.expr() };
  }

  private or(): Node {
    let l = this.and();
    while (this.eat("||")) l = { k: "bin", op: "||", l, r: this.and() };
    return l;
  }

  private and(): Node {
    let l = this.rel();
    while (this.eat("&&")) l = { k: "bin", op: "&&", l, r: this.rel() };
    return l;
  }

  private rel(): Node {
    const l = this.unary();
    for (const op of ["==", "!=", "in"] as const) if (this.eat(op)) return { k: "bin", op, l, r: this.unary() };
    return l;
  }

  private unary(): Node {
    if (this.eat("!")) return { k: "not", x: this.unary() };
    return this.member();
  }

  private member(): Node {
    let n = this.primary();
    for (;;) {
      if (this.eat(".")) n = { k: "select", operand: n, field: this.ident(), test: false };
      else if (this.eat("[")) {
        const key = this.expr();
        this.want("]");
        n = { k: "index", operand: n, key };
      } else return n;
    }
  }

  private ident(): string {
    const t = this.toks[this.i++];
    if (t?.t !== "ident" || RESERVED.has(t.v)) throw new SyntaxError(`expected an identifier, got ${JSON.stringify(t?.v ?? "end")}`);
    return t.v;
  }

  private primary(): Node {
    const t = this.toks[this.i];
    if (t === undefined) throw new SyntaxError("unexpected end of expression");
    if (t.t === "int") {
      this.i++;
      const u = t.v.endsWith("u");
      const v = BigInt(u ? t.v.slice(0, -1) : t.v);
      if (u ? v > 0xffffffffffffffffn : v > 0x7fffffffffffffffn) throw new SyntaxError(`integer ${t.v} out of range`);
      return { k: "lit", v: u ? { t: "uint64", v } : { t: "int64", v } };
    }
    if (t.t === "str") {
      this.i++;
      return { k: "lit", v: { t: "string", v: t.v } };
    }
    if (this.eat("true")) return { k: "lit", v: { t: "bool", v: true } };
    if (this.eat("false")) return { k: "lit", v: { t: "bool", v: false } };
    if (this.eat("has")) {
      this.want("(");
      const arg = this.member();
      this.want(")");
      // The has() macro takes a field selection only (cel-cpp: "invalid argument to has() macro").
      if (arg.k !== "select") throw new SyntaxError("invalid argument to has() macro");
      return { ...arg, test: true };
    }
    if (this.eat("(")) {
      const n = this.expr();
      this.want(")");
      return n;
    }
    if (this.eat("{")) {
      const entries: Array<[Node, Node]> = [];
      while (!this.eat("}")) {
        const key = this.expr();
        this.want(":");
        entries.push([key, this.expr()]);
        if (!this.eat(",")) {
          this.want("}");
          break;
        }
      }
      return { k: "map", entries };
    }
    return { k: "ident", name: this.ident() };
  }
}

/** Parses `src`; a SyntaxError (message naming the problem) for anything outside the subset. */
export function parseCel(src: string): Node {
  return new Parser(tokenize(src)).parse();
}

function isError<T>(r: T | CelError): r is CelError {
  return r instanceof CelError;
}

/** A map key as the literal and the wrappers take it: strings only in this subset. */
function keyOf(v: Value): string | CelError {
  return v.t === "string" ? v.v : new CelError(`unsupported key type ${v.t}`);
}

function lookup(operand: Value, key: string): Value | undefined | CelError {
  if (operand.t === "map") return operand.get(key);
  if (operand.t === "message") return operand.field(key);
  return new CelError(`type ${operand.t} has no field ${key}`);
}

function scalarEquals(a: Value, b: Value): boolean | CelError {
  if (a.t !== b.t) return new CelError(`no matching overload for ${a.t} == ${b.t}`);
  if (a.t === "bytes" && b.t === "bytes") return Buffer.from(a.v).equals(Buffer.from(b.v));
  if (a.t === "map" || a.t === "message") return new CelError(`no matching overload for ${a.t} ==`);
  return (a as { v: unknown }).v === (b as { v: unknown }).v;
}

export function evaluateCel(ctx: Context, n: Node): Result {
  switch (n.k) {
    case "lit":
      return n.v;
    case "ident":
      return celTopLevel(ctx, n.name) ?? new CelError(`undeclared reference to '${n.name}'`);
    case "select": {
      const o = evaluateCel(ctx, n.operand);
      if (isError(o)) return o;
      const v = lookup(o, n.field);
      if (n.test) return isError(v) ? v : { t: "bool", v: v !== undefined };
      return v ?? new CelError(`no such key: ${n.field}`);
    }
    case "index": {
      const o = evaluateCel(ctx, n.operand);
      if (isError(o)) return o;
      const kv = evaluateCel(ctx, n.key);
      if (isError(kv)) return kv;
      const k = keyOf(kv);
      if (isError(k)) return k;
      if (o.t !== "map") return new CelError(`no matching overload for index on ${o.t}`);
      return o.get(k) ?? new CelError(`no such key: ${k}`);
    }
    case "map": {
      const entries = new Map<string, Value>();
      for (const [kn, vn] of n.entries) {
        const kv = evaluateCel(ctx, kn);
        if (isError(kv)) return kv;
        const k = keyOf(kv);
        if (isError(k)) return k;
        const v = evaluateCel(ctx, vn);
        if (isError(v)) return v;
        if (entries.has(k)) return new CelError(`duplicate map key ${k}`);
        entries.set(k, v);
      }
      return { t: "map", get: (k) => entries.get(k), keys: () => [...entries.keys()] };
    }
    case "cond": {
      const c = evaluateCel(ctx, n.c);
      if (isError(c)) return c;
      if (c.t !== "bool") return new CelError(`no matching overload for conditional on ${c.t}`);
      return evaluateCel(ctx, c.v ? n.a : n.b);
    }
    case "not": {
      const x = evaluateCel(ctx, n.x);
      if (isError(x)) return x;
      return x.t === "bool" ? { t: "bool", v: !x.v } : new CelError(`no matching overload for !${x.t}`);
    }
    case "bin": {
      if (n.op === "&&" || n.op === "||") {
        // CEL's commutative logic: a deciding operand wins over an error on the other side.
        const decide = n.op === "||";
        const l = evaluateCel(ctx, n.l);
        if (!isError(l) && l.t === "bool" && l.v === decide) return l;
        const r = evaluateCel(ctx, n.r);
        if (!isError(r) && r.t === "bool" && r.v === decide) return r;
        if (isError(l)) return l;
        if (isError(r)) return r;
        if (l.t !== "bool" || r.t !== "bool") return new CelError(`no matching overload for ${l.t} ${n.op} ${r.t}`);
        return { t: "bool", v: !decide };
      }
      const l = evaluateCel(ctx, n.l);
      if (isError(l)) return l;
      const r = evaluateCel(ctx, n.r);
      if (isError(r)) return r;
      if (n.op === "in") {
        if (r.t !== "map") return new CelError(`no matching overload for in ${r.t}`);
        const k = keyOf(l);
        if (isError(k)) return k;
        return { t: "bool", v: r.get(k) !== undefined };
      }
      const eq = scalarEquals(l, r);
      if (isError(eq)) return eq;
      return { t: "bool", v: n.op === "==" ? eq : !eq };
    }
  }
}

const enc = new TextEncoder();

function le64(v: bigint, signed: boolean): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  if (signed) dv.setBigInt64(0, v, true);
  else dv.setBigUint64(0, v, true);
  return b;
}

/**
 * context.cc serializeValue: string/bytes raw, int64/uint64 8 bytes little-endian, bool 1 byte,
 * a message its wire bytes, a map proxy-wasm pairs of serialized keys and values (ListKeys()
 * failing, as on Envoy's attribute wrappers, is SerializationFailure).
 */
export function serializeCel(v: Value): Uint8Array | WasmResult {
  switch (v.t) {
    case "string":
      return enc.encode(v.v);
    case "bytes":
      return v.v;
    case "int64":
      return le64(v.v, true);
    case "uint64":
      return le64(v.v, false);
    case "bool":
      return new Uint8Array([v.v ? 1 : 0]);
    case "message":
      return v.bytes;
    case "map": {
      if (v.keys === undefined) return WasmResult.SerializationFailure;
      const parts: Array<[Uint8Array, Uint8Array]> = [];
      for (const k of v.keys()) {
        const fv = v.get(k);
        if (fv === undefined) return WasmResult.SerializationFailure;
        const b = serializeCel(fv);
        if (typeof b === "number") return WasmResult.SerializationFailure;
        parts.push([enc.encode(k), b]);
      }
      let size = 4 + parts.length * 8;
      for (const [k, b] of parts) size += k.length + b.length + 2;
      const out = new Uint8Array(size);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, parts.length, true);
      let p = 4 + parts.length * 8;
      parts.forEach(([k, b], i) => {
        dv.setUint32(4 + i * 8, k.length, true);
        dv.setUint32(8 + i * 8, b.length, true);
        out.set(k, p);
        p += k.length + 1;
        out.set(b, p);
        p += b.length + 1;
      });
      return out;
    }
  }
}

/** The expressions of one root context (Envoy's ExpressionContext, foreign data "cel"). */
class ExpressionStore {
  private next = 0;
  readonly exprs = new Map<number, Node>();

  add(n: Node): number {
    let token = this.next;
    this.next = (this.next + 1) >>> 0;
    while (this.exprs.has(token)) {
      token = this.next;
      this.next = (this.next + 1) >>> 0;
    }
    this.exprs.set(token, n);
    return token;
  }
}

const stores = new WeakMap<Context, ExpressionStore>();

function storeOf(ctx: Context): ExpressionStore {
  let s = stores.get(ctx.root);
  if (s === undefined) {
    s = new ExpressionStore();
    stores.set(ctx.root, s);
  }
  return s;
}

/** The expressions a root context holds (for tests: expr_delete frees them). */
export function expressionCount(root: Context): number {
  return stores.get(root.root)?.exprs.size ?? 0;
}

/** Parsed expressions by text: a filter creates the same few on every configure. */
const parsed = new Map<string, Node | string>();

function parseCached(src: string): Node | string {
  let p = parsed.get(src);
  if (p === undefined) {
    try {
      p = parseCel(src);
    } catch (e) {
      p = e instanceof SyntaxError ? e.message : String(e);
    }
    if (parsed.size >= 256) parsed.clear();
    parsed.set(src, p);
  }
  return p;
}

export interface CelForeignResult {
  readonly result: WasmResult;
  readonly data?: Uint8Array;
}

/** Why expr_create refuses `src` ("" when it is accepted): Envoy's "expr_create parse error: ..." line. */
export function celParseError(src: string): string {
  const n = parseCached(src);
  return typeof n === "string" ? n : "";
}

/** expr_create: the expression text → a 4-byte token; BadArgument for a parse error. */
export function exprCreate(ctx: Context, args: Uint8Array): CelForeignResult {
  const src = new TextDecoder().decode(args);
  const n = parseCached(src);
  // Envoy logs the parse error in its own log (ENVOY_LOG info), not the wasm log: celParseError.
  if (typeof n === "string") return { result: WasmResult.BadArgument };
  const token = storeOf(ctx).add(n);
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, token, true);
  return { result: WasmResult.Ok, data };
}

/** expr_evaluate: BadArgument unless 4 bytes, NotFound for an unknown token, InternalFailure for an error. */
export function exprEvaluate(ctx: Context, args: Uint8Array): CelForeignResult {
  if (args.length !== 4) return { result: WasmResult.BadArgument };
  const token = new DataView(args.buffer, args.byteOffset, 4).getUint32(0, true);
  const n = storeOf(ctx).exprs.get(token);
  if (n === undefined) return { result: WasmResult.NotFound };
  const v = evaluateCel(ctx, n);
  if (isError(v)) return { result: WasmResult.InternalFailure };
  const data = serializeCel(v);
  return typeof data === "number" ? { result: data } : { result: WasmResult.Ok, data };
}

/** expr_delete: BadArgument unless 4 bytes; otherwise Ok, whether or not the token existed. */
export function exprDelete(ctx: Context, args: Uint8Array): CelForeignResult {
  if (args.length !== 4) return { result: WasmResult.BadArgument };
  storeOf(ctx).exprs.delete(new DataView(args.buffer, args.byteOffset, 4).getUint32(0, true));
  return { result: WasmResult.Ok };
}
