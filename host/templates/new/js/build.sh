#!/usr/bin/env bash
# Runs the unit tests, then builds {{name}}.wasm with componentize-js.
# The toolchain is the node_modules folder $ASSAY_JS_NODE_MODULES names, by
# default ~/.cache/assay/js-toolchain/node_modules: one install (about 390 MB)
# for all your JavaScript plugins, not one per project. The versions are
# those of package.json.
set -euo pipefail
cd "$(dirname "$0")"
modules=${ASSAY_JS_NODE_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/js-toolchain/node_modules}
if [ ! -x "$modules/.bin/componentize-js" ]; then
    echo "componentize-js is not installed. Install it once for all your JavaScript plugins:" >&2
    echo "  npm install --prefix ${modules%/node_modules} --no-save @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0" >&2
    exit 1
fi
node --test test/
# From this folder, with a relative source path: componentize-js lets the
# module import only files under the working directory. `-d http -d
# fetch-event` keeps wasi:http out of the component's imports.
# componentize-cache.mjs reuses the step that does not read your code (see
# that file). --single-threaded-gc: componentize-js runs a large WebAssembly
# module that grows its memory step by step, and Node's concurrent garbage
# collector makes each step slow; with it a build takes 14 s instead of 22 s
# on two busy cores.
node --single-threaded-gc --import ./componentize-cache.mjs "$modules/@bytecodealliance/componentize-js/src/cli.js" \
    {{name}}.js --wit wit --world-name {{world}} -d http -d fetch-event -o {{name}}.wasm >/dev/null
{{package_step}}
echo "built {{name}}.wasm"
