#!/usr/bin/env bash
# Builds {{name}}.wasm, the component, and runs the unit tests natively.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --quiet
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{name}}.wasm" {{name}}.wasm
# The standard component metadata: name, version and description from the
# plugin's describe(); add --author, --license and --source before sharing it.
assay=${ASSAY:-assay}
if command -v "$assay" >/dev/null; then
    "$assay" package {{name}}.wasm -o {{name}}.wasm >/dev/null
else
    echo "assay is not on PATH (nor in \$ASSAY), so {{name}}.wasm carries no metadata: run assay package"
fi
echo "built {{name}}.wasm"
