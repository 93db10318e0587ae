"""The same artifacts through ORAS, the OCI ecosystem's artifact client.

Usage: oras_interop.py REGISTRY WORKDIR

Pulls nlp/exact:1.0 (which assay pushed) and prints the sha256 of what it
got; then pushes WORKDIR/exact_match.wasm as nlp/from-oras:1.0 in the wasm
component layout, for assay to pull.
"""

import hashlib
import json
import pathlib
import sys

import oras.client

registry, workdir = sys.argv[1], pathlib.Path(sys.argv[2])
client = oras.client.OrasClient(hostname=registry, insecure=True)

pulled = client.pull(target=f"{registry}/nlp/exact:1.0", outdir=str(workdir / "oras-pull"))
for path in pulled:
    print("pulled", hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest())

component = workdir / "exact_match.wasm"
config = workdir / "wasm-config.json"
digest = "sha256:" + hashlib.sha256(component.read_bytes()).hexdigest()
config.write_text(json.dumps({
    "created": "2026-01-01T00:00:00Z",
    "architecture": "wasm",
    "os": "wasip2",
    "layerDigests": [digest],
}))
client.push(
    target=f"{registry}/nlp/from-oras:1.0",
    files=[f"{component}:application/wasm"],
    manifest_config=f"{config}:application/vnd.wasm.config.v0+json",
    disable_path_validation=True,
)
print("pushed", digest)
