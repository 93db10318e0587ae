#!/usr/bin/env bash
# Install the toolchains that build.sh uses: componentize-py and wasmtime in a
# Python venv (python/requirements.txt), componentize-js and jco in js/node_modules
# (js/package-lock.json). Safe to run again: it reinstalls only what changed
# since the last run, and returns at once otherwise.
#
# The venv lives outside the work tree, shared by all checkouts:
# $ASSAY_PLUGIN_VENV, by default ~/.cache/assay/plugin-venv.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${ASSAY_PLUGIN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/plugin-venv}

# A stamp of the inputs of each install tells whether it is current; the
# Python version is part of it because a venv is tied to its interpreter.
requirements="$here/python/requirements.txt"
want="$(python3 --version) $(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$venv/.assay-stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing $requirements into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$venv/.assay-stamp"
fi

js="$here/js"
want="$(node --version) $(sha256sum "$js/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$js/node_modules/.assay-stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: npm ci in $js" >&2
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$js/node_modules/.assay-stamp"
fi
