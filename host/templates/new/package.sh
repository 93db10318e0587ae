# The standard component metadata: name, version and description from the
# plugin's describe(); add --author, --license and --source before sharing it.
# `assay dev` (ASSAY_DEV=1) runs the plugin as built: packaging would cost
# a second compile per round for metadata nobody reads there.
assay=${ASSAY:-assay}
if [ "${ASSAY_DEV:-}" = 1 ]; then
    :
elif command -v "$assay" >/dev/null; then
    "$assay" package {{name}}.wasm -o {{name}}.wasm >/dev/null
else
    echo "assay is not on PATH (nor in \$ASSAY), so {{name}}.wasm carries no metadata: run assay package"
fi
