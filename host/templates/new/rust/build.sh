#!/usr/bin/env bash
# Builds {{name}}.wasm, the component, and runs the unit tests natively.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --quiet
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{name}}.wasm" {{name}}.wasm
{{package_step}}
echo "built {{name}}.wasm"
