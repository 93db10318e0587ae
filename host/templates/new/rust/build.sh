#!/usr/bin/env bash
# Builds {{name}}.wasm, the component, and runs the unit tests natively.
set -euo pipefail
cd "$(dirname "$0")"
# One target folder for all your Rust plugins: the SDK's dependencies (for
# the native tests and for wasm32-wasip2) compile once per machine, not once
# per project. Set CARGO_TARGET_DIR to keep a project's build apart.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/assay/rust-target}
cargo test --quiet
cargo build --release --target wasm32-wasip2
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/{{name}}.wasm" {{name}}.wasm
{{package_step}}
echo "built {{name}}.wasm"
