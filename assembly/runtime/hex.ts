// Hexadecimal digits for error messages (bytes, code units, magic numbers). `u32.toString(16)`
// would link AssemblyScript's generic radix formatter and its error text into every module that
// formats one byte; this is the one formatter the runtime, codecs and filters share.

const DIGITS = "0123456789abcdef";

/** Lower-case hexadecimal of `v` without prefix, zero-padded to at least `minDigits` digits. */
export function hex(v: u32, minDigits: i32 = 1): string {
  let s = "";
  do {
    s = DIGITS.charAt(<i32>(v & 0xf)) + s;
    v >>= 4;
    minDigits--;
  } while (v != 0 || minDigits > 0);
  return s;
}
