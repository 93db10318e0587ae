# The standard component metadata: name, version and description from the
# plugin's describe(); add --author, --license and --source before sharing it.
assay=${ASSAY:-assay}
if command -v "$assay" >/dev/null; then
    "$assay" package {{name}}.wasm -o {{name}}.wasm >/dev/null
else
    echo "assay is not on PATH (nor in \$ASSAY), so {{name}}.wasm carries no metadata: run assay package"
fi
