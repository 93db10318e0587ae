#!/usr/bin/env bash
# Runs the unit tests, then builds {{name}}.wasm with componentize-js.
# The toolchain is ./node_modules (`npm install` once), or the node_modules
# folder $ASSAY_JS_NODE_MODULES names, such as Assay's examples/plugins/js/node_modules.
set -euo pipefail
cd "$(dirname "$0")"
modules=${ASSAY_JS_NODE_MODULES:-node_modules}
[ -d "$modules" ] || npm install --no-audit --no-fund --loglevel=error
node --test test/
# From this folder, with a relative source path: componentize-js lets the
# module import only files under the working directory. `-d http -d
# fetch-event` keeps wasi:http out of the component's imports.
"$modules/.bin/componentize-js" {{name}}.js --wit wit --world-name {{world}} -d http -d fetch-event -o {{name}}.wasm >/dev/null
{{package_step}}
echo "built {{name}}.wasm"
