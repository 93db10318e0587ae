#!/usr/bin/env bash
# Build the example plugins from source into OUT_DIR:
#   token_f1_py.wasm  banned_phrases_py.wasm  (componentize-py)
#   token_f1_js.wasm  banned_phrases_js.wasm  (componentize-js)
#   rubric_judge_py.wasm  rubric_judge_js.wasm  (custom judges: they ask a model)
# then check what each component exports and imports.
#
#   examples/plugins/build.sh OUT_DIR [token_f1_py ...]
#
# Runs setup.sh first (quick when the toolchains are installed). The WIT is
# the repository's wit/ folder, read in place: there is no copy to drift.
#
# ASSAY_PY_WASI=full builds the Python plugins with real WASI imports instead
# of trapping stubs (see README.md: lets print() reach the host's stderr, at
# the price of importing wasi:sockets).
set -euo pipefail

if [ $# -lt 1 ]; then
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wit=$(cd "$here/../../wit" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift
all=(token_f1_py banned_phrases_py token_f1_js banned_phrases_js rubric_judge_py rubric_judge_js)
selected=("${@:-${all[@]}}")

"$here/setup.sh"
venv=${ASSAY_PLUGIN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/plugin-venv}
js="$here/js"

world_of() {
    case "$1" in
        token_f1_py | token_f1_js) echo evaluator-plugin ;;
        banned_phrases_py | banned_phrases_js) echo guard-plugin ;;
        rubric_judge_py | rubric_judge_js) echo model-evaluator-plugin ;;
        *) echo "unknown plugin $1; expected one of: ${all[*]}" >&2; exit 2 ;;
    esac
}

build_py() { # name world
    local stub=(--stub-wasi)
    # --stub-wasi turns every WASI import into a trapping stub: the plugins
    # need none at run time (CPython is initialized at build time), and
    # without it the component imports wasi:sockets, which a sandboxed host
    # should not have to provide.
    [ "${ASSAY_PY_WASI:-stub}" = full ] && stub=()
    PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" -d "$wit" -w "$2" \
        componentize "${stub[@]}" -p "$here/python/${1%_py}" app -o "$out/$1.wasm" >/dev/null
}

build_js() { # name world
    local tables="$js/lib/unicode_tables.js" have
    have=$("$venv/bin/componentize-py" --version | awk '{print $NF}')
    if ! grep -q "^export const COMPONENTIZE_PY = \"$have\";" "$tables"; then
        echo "$tables was generated for another componentize-py than $have; regenerate it:" >&2
        echo "  $venv/bin/python $js/lib/gen_unicode_tables.py" >&2
        exit 1
    fi
    # From js/, with a relative source path: componentize-js lets the module
    # import only files under the current directory, and the plugins import
    # ../lib. `-d http -d fetch-event` keeps wasi:http out of the imports.
    (cd "$js" && node_modules/.bin/componentize-js "${1%_js}/${1%_js}.js" --wit "$wit" --world-name "$2" \
        -d http -d fetch-event -o "$out/$1.wasm" >/dev/null)
}

verify() { # name world
    local interface wit_text
    case "$2" in
        evaluator-plugin | model-evaluator-plugin) interface=assay:plugin/evaluator@0.1.4 ;;
        guard-plugin) interface=assay:plugin/guard@0.1.4 ;;
    esac
    wit_text=$("$js/node_modules/.bin/jco" wit "$out/$1.wasm")
    if ! grep -qx "  export $interface;" <<<"$wit_text"; then
        echo "$1.wasm does not export $interface" >&2
        exit 1
    fi
    if [ "$2" = model-evaluator-plugin ] && ! grep -qx "  import assay:plugin/model@0.1.4;" <<<"$wit_text"; then
        echo "$1.wasm does not import assay:plugin/model@0.1.4" >&2
        exit 1
    fi
    local network='wasi:(http|sockets)'
    # Full WASI for CPython includes sockets; ASSAY_PY_WASI=full accepts that.
    [ "${ASSAY_PY_WASI:-stub}" = full ] && [[ $1 == *_py ]] && network='wasi:http'
    if grep -E "^  import $network/" <<<"$wit_text" >&2; then
        echo "$1.wasm imports the network (above): the host would have to provide it" >&2
        exit 1
    fi
    imports=$(sed -n 's/^  import \([^;]*\);$/\1/p' <<<"$wit_text" | sort | tr '\n' ' ')
}

printf '%-20s %9s %8s  %s\n' component MiB seconds imports
for name in "${selected[@]}"; do
    world=$(world_of "$name")
    start=$(date +%s%N)
    case "$name" in
        *_py) build_py "$name" "$world" ;;
        *_js) build_js "$name" "$world" ;;
    esac
    seconds=$(( ($(date +%s%N) - start) / 1000000 ))
    verify "$name" "$world"
    size=$(stat -c %s "$out/$name.wasm")
    awk -v n="$name" -v b="$size" -v ms="$seconds" -v i="${imports:-none}" \
        'BEGIN { printf "%-20s %9.1f %8.1f  %s\n", n, b / 1048576, ms / 1000, i }'
done
