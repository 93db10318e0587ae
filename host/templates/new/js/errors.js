// Errors that reach the plugin's author.
//
// componentize-js makes whatever `configure` or `finalize` throws the `err`
// string of their WIT result. A thrown Error is an object, not a string, so
// its message would be lost: the call traps with "expected a string,
// received [object]". `reportingErrors` turns a thrown Error into its name,
// message and stack, which the host shows in the plugin's error. A thrown
// string passes as it is. Errors thrown elsewhere (`score`, `screen`) trap,
// and the host already shows their message and stack.

/** The methods whose WIT result carries a thrown value as its `err`. */
const RESULT_METHODS = new Set(["configure", "finalize"]);

/** The plugin object, its `configure` and `finalize` throwing Errors as text. */
export function reportingErrors(plugin) {
  const wrapped = {};
  for (const [name, method] of Object.entries(plugin)) {
    if (!RESULT_METHODS.has(name)) {
      wrapped[name] = method.bind(plugin);
      continue;
    }
    wrapped[name] = (...args) => {
      try {
        return method.apply(plugin, args);
      } catch (error) {
        throw errorText(error);
      }
    };
  }
  return wrapped;
}

/** A thrown value as the text the host shows. */
export function errorText(error) {
  if (typeof error === "string") return error;
  if (error instanceof Error) {
    const stack = (error.stack ?? "").trimEnd();
    return stack ? `${error.name}: ${error.message}\n${stack}` : `${error.name}: ${error.message}`;
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
