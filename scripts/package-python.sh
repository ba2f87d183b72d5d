#!/usr/bin/env bash
# Builds the Python wheel and sdist into dist/python, where jsii-pacmak's own Python step puts them and
# where publib's PyPI upload looks, with the build tools this machine's local package indexes hold.
# jsii-pacmak's Python step pins setuptools/build versions those indexes do not have (and fetches them
# from PyPI, unreachable here), so pacmak only generates the code, into build/python (git- and
# npm-ignored), and `python -m build` (no isolation) packs it. This is projen's `package:python` task,
# so `npx projen build` and `npx projen package-all` run it.
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

src=build/python
out=dist/python

# The first local index pip is configured with (pip's default index is unreachable here).
if [ -z "${PIP_INDEX_URL:-}" ]; then
  first_index=$(python3 -m pip config list 2>/dev/null | sed -n "s/^global\.extra-index-url='\([^ ']*\).*/\1/p" | head -n 1)
  [ -n "$first_index" ] && export PIP_INDEX_URL="$first_index"
fi

rm -rf "$src" "$out"
# --force: the fingerprint check would otherwise skip generation when only the output folder is gone.
npx jsii-pacmak -t python --code-only --force --outdir "$(dirname "$src")"

venv=.venv-build
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check build setuptools wheel

mkdir -p "$out"
"$venv/bin/python" -m build --no-isolation --skip-dependency-check --outdir "$out" "$src"

# Exactly one wheel and one sdist: publib uploads whatever dist/python holds.
shopt -s nullglob
wheels=("$out"/*.whl) sdists=("$out"/*.tar.gz) all=("$out"/*)
[ ${#wheels[@]} -eq 1 ] && [ ${#sdists[@]} -eq 1 ] && [ ${#all[@]} -eq 2 ] ||
  { echo "expected one .whl and one .tar.gz in $out, found: ${all[*]:-nothing}" >&2; exit 1; }
wheel=${wheels[0]} sdist=${sdists[0]}
echo "built $wheel and $sdist"

# The wheel must hold the module and, inside its embedded npm tarball, every handler bundle; the sdist
# must hold the module's source.
"$venv/bin/python" - "$wheel" "$sdist" <<'PY'
import io, sys, tarfile, zipfile
wheel_path, sdist_path = sys.argv[1:]
wheel = zipfile.ZipFile(wheel_path)
names = wheel.namelist()
assert "cdk_snapshot_policy/__init__.py" in names, "module cdk_snapshot_policy missing from the wheel"
tgz = [n for n in names if n.startswith("cdk_snapshot_policy/_jsii/") and n.endswith(".jsii.tgz")]
assert len(tgz) == 1, f"expected one embedded jsii tarball, found {tgz}"
members = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz[0]))).getnames()
for asset in ("package/assets/snapshot-run/index.js", "package/assets/cleanup/index.js",
              "package/assets/orchestrated/index.js", "package/out/index.js"):
    assert asset in members, f"{asset} missing from {tgz[0]}"
print(f"wheel ok: cdk_snapshot_policy module and {tgz[0]} with the snapshot-run, cleanup and orchestrated handler assets")
sdist = tarfile.open(sdist_path).getnames()
assert any(n.endswith("/src/cdk_snapshot_policy/__init__.py") for n in sdist), "module source missing from the sdist"
print(f"sdist ok: {len(sdist)} entries, src/cdk_snapshot_policy/__init__.py among them")
PY
