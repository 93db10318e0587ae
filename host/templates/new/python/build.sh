#!/usr/bin/env bash
# Runs the unit tests, then builds {{name}}.wasm with componentize-py.
# componentize-py comes from $ASSAY_PLUGIN_VENV (by default
# ~/.cache/assay/plugin-venv, which Assay's examples/plugins/setup.sh fills),
# else from PATH: `pip install componentize-py==0.25.1`.
set -euo pipefail
cd "$(dirname "$0")"
venv=${ASSAY_PLUGIN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/plugin-venv}
componentize_py=componentize-py
[ -x "$venv/bin/componentize-py" ] && componentize_py=$venv/bin/componentize-py
python3 -m unittest --quiet
# --stub-wasi: the plugin imports no WASI at all (every WASI call traps), so
# it needs nothing from the sandbox; print() then traps too.
PYTHONDONTWRITEBYTECODE=1 "$componentize_py" -d wit -w {{world}} componentize --stub-wasi -p . app -o {{name}}.wasm >/dev/null
{{package_step}}
echo "built {{name}}.wasm"
