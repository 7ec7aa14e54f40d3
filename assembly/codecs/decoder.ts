// The answer of every message decoder (`assembly/codecs/<proto>/decoder.ts`): one call to
// `decode` over the bytes seen so far either needs more of them, finished one message, or found
// the stream broken. Errors are values: the decoder keeps a message naming the bad value
// ("invalid dubbo body length -1") and never throws, since a trap ends the VM in Envoy.

export const enum DecodeStatus {
  /** Every byte so far fits; call again with the grown buffer (consumed bytes are not re-read). */
  NeedMoreData = 0,
  /** One message is complete; its fields are readable until the next `decode`. */
  Done = 1,
  /** The stream is not this protocol or is corrupt; the decoder's error message says why. */
  Error = 2,
}

export function decodeStatusName(s: DecodeStatus): string {
  switch (s) {
    case DecodeStatus.NeedMoreData: return "NeedMoreData";
    case DecodeStatus.Done: return "Done";
    default: return "Error";
  }
}
