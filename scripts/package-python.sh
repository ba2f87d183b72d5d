#!/usr/bin/env bash
# Builds the Python wheel and sdist into dist/python-dist with the build tools this machine's local
# package indexes hold. jsii-pacmak's own Python step pins setuptools/build/twine versions those indexes
# do not have, so pacmak only generates the code here and `python -m build` (no isolation) packs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

# The first local index pip is configured with (pip's default index is unreachable here).
if [ -z "${PIP_INDEX_URL:-}" ]; then
  first_index=$(python3 -m pip config list 2>/dev/null | sed -n "s/^global\.extra-index-url='\([^ ']*\).*/\1/p" | head -n 1)
  [ -n "$first_index" ] && export PIP_INDEX_URL="$first_index"
fi

rm -rf dist/python dist/python-dist
npx jsii-pacmak -t python --code-only

venv=.venv-build
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check build setuptools wheel

(cd dist/python && "../../$venv/bin/python" -m build --no-isolation --skip-dependency-check --outdir ../python-dist)

wheel=$(ls dist/python-dist/*.whl)
sdist=$(ls dist/python-dist/*.tar.gz)
echo "built $wheel and $sdist"

# The wheel must hold the module and, inside its embedded npm tarball, every handler bundle.
"$venv/bin/python" - "$wheel" <<'PY'
import io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
assert "cdk_snapshot_policy/__init__.py" in names, "module cdk_snapshot_policy missing from the wheel"
tgz = [n for n in names if n.startswith("cdk_snapshot_policy/_jsii/") and n.endswith(".jsii.tgz")]
assert len(tgz) == 1, f"expected one embedded jsii tarball, found {tgz}"
members = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz[0]))).getnames()
for asset in ("package/assets/snapshot-run/index.js", "package/assets/cleanup/index.js",
              "package/assets/orchestrated/index.js", "package/out/index.js"):
    assert asset in members, f"{asset} missing from {tgz[0]}"
print(f"wheel ok: cdk_snapshot_policy module and {tgz[0]} with the snapshot-run, cleanup and orchestrated handler assets")
PY
