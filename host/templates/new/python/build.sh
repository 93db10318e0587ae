#!/usr/bin/env bash
# Runs the unit tests, then builds {{name}}.wasm with componentize-py.
# componentize-py comes from $ASSAY_PLUGIN_VENV (by default
# ~/.cache/assay/plugin-venv: one install for all your Python plugins),
# else from PATH.
set -euo pipefail
cd "$(dirname "$0")"
venv=${ASSAY_PLUGIN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/plugin-venv}
componentize_py=componentize-py
[ -x "$venv/bin/componentize-py" ] && componentize_py=$venv/bin/componentize-py
if ! command -v "$componentize_py" >/dev/null; then
    echo "componentize-py is not installed. Install it once for all your Python plugins:" >&2
    echo "  python3 -m venv $venv && $venv/bin/pip install componentize-py==0.25.1" >&2
    exit 1
fi
python3 -m unittest --quiet
if [ -n "${ASSAY_DEV_SHELL:-}" ]; then
    # `assay dev` asks for its shell: a component that holds the interpreter
    # and the modules your code imports, and reads your code itself afresh
    # from /src (this folder, granted read-only) at every run, so an edit
    # needs no componentize-py. The shell is built again only when what it
    # holds may change: the WIT, componentize-py, assay's shell module, or
    # an import line.
    shell=$ASSAY_DEV_SHELL/{{name}}.wasm
    key=$({ cat wit/*.wit "$ASSAY_DEV_SHELL"/*.py; "$componentize_py" --version
            grep -rhE --include='*.py' --exclude-dir=.assay-dev '^[[:space:]]*(import|from)[[:space:]]' . | sort; } | sha256sum)
    if [ -f "$shell" ] && [ "$(cat "$shell.key" 2>/dev/null)" = "$key" ]; then
        touch "$shell"
        exit 0
    fi
    PYTHONDONTWRITEBYTECODE=1 "$componentize_py" -d wit -w {{world}} componentize -p . -p "$ASSAY_DEV_SHELL" assay_dev_shell -o "$shell" >/dev/null
    echo "$key" > "$shell.key"
    exit 0
fi
# With WASI, an exception's traceback and print() reach the plugin's log,
# which Assay quotes in the error a failing call causes and shows with
# `assay run -v` and `assay test`. ASSAY_PY_WASI=stub builds with --stub-wasi
# instead: the component then imports no WASI at all, and print() or an
# uncaught exception traps without a word.
stub=()
[ "${ASSAY_PY_WASI:-full}" = stub ] && stub=(--stub-wasi)
PYTHONDONTWRITEBYTECODE=1 "$componentize_py" -d wit -w {{world}} componentize "${stub[@]}" -p . app -o {{name}}.wasm >/dev/null
{{package_step}}
echo "built {{name}}.wasm"
