// Keep a leading U+FEFF in the strings that the host passes in.
//
// componentize-js 0.23.0 lifts every WIT `string` argument with a default
// `new TextDecoder()`, which drops a UTF-8 byte-order mark at the start of
// the bytes. U+FEFF is an ordinary character to the Assay host and to Python
// (not even whitespace for `str.split()`), so an output or reference
// beginning with it scored differently in the JavaScript plugins. The
// bindings' decoder is created before this module runs, so it cannot be
// replaced; its prototype's `decode` can, and puts back the one mark that
// the standard decoder removes.
//
// Import this module first, for its effect, in every plugin.

const decode = TextDecoder.prototype.decode;

TextDecoder.prototype.decode = function (input, options) {
  const text = decode.call(this, input, options);
  // Per the Encoding standard, only a non-streaming utf-8 decoder without
  // ignoreBOM strips the mark, and exactly one. (`input` may be a Uint8Array
  // of another realm, so test its bytes, not its class.)
  const strips = this.ignoreBOM !== true && this.encoding === "utf-8" && !(options && options.stream);
  if (strips && input && input.length >= 3 && input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) {
    return "\ufeff" + text;
  }
  return text;
};
