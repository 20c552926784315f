#!/usr/bin/env bash
# Fetches ptxas (CUDA 11.8, from Debian's non-free nvidia-cuda-toolkit .deb) into tools/cuda/.
# Uses the Debian mirror and release this machine's apt is already configured with, adds the
# non-free component in a private apt configuration (the system's apt state is not touched)
# and extracts the package locally: nothing is installed system-wide.
# Usage: bash tools/ptxas/fetch-ptxas.sh   (idempotent; exits 0 at once when ptxas is present)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="$repo_root/tools/cuda"
if [[ -x "$dest/bin/ptxas" ]]; then
  echo "ptxas already present: $dest/bin/ptxas"
  exit 0
fi
for tool in apt-get dpkg-deb awk; do
  command -v "$tool" >/dev/null || { echo "fetch-ptxas: '$tool' not found; this script needs a Debian-based machine with apt" >&2; exit 1; }
done

# First Debian archive source (URI, suite, keyring) of the system apt configuration:
# deb822 stanzas in sources.list.d/*.sources, then one-line entries in *.list files.
read_source() {
  shopt -s nullglob
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; suite = ""; key = "";
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)      { split($i, a, /[ \t]+/); uri = a[2] }
          if ($i ~ /^Suites:/)    { split($i, a, /[ \t]+/); suite = a[2] }
          if ($i ~ /^Signed-By:/) { split($i, a, /[ \t]+/); key = a[2] }
        }
        if (uri ~ /\/debian\/?$/ && suite !~ /-security$/ && suite != "") { print uri, suite, key; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" {
        i = 2; key = "";
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { if ($i ~ /signed-by=/) { key = $i }; i++ }; if ($i ~ /signed-by=/) { key = $i }; i++ }
        sub(/.*signed-by=/, "", key); sub(/\]$/, "", key);
        if ($i ~ /\/debian\/?$/ && $(i + 1) !~ /-security$/) { print $i, $(i + 1), key; exit }
      }' "$f"
  done
}
source_line="$(read_source | head -n 1)"
if [[ -z "$source_line" ]]; then
  echo "fetch-ptxas: no Debian archive source found in /etc/apt/sources.list{,.d}; expected a 'deb .../debian <suite> main' entry. Configure apt for Debian first." >&2
  exit 1
fi
read -r uri suite keyring <<<"$source_line"
echo "fetch-ptxas: using the configured Debian source (suite '$suite') with the non-free component added"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc"
signed=""
[[ -n "$keyring" ]] && signed=" [signed-by=$keyring]"
echo "deb$signed $uri $suite main contrib non-free non-free-firmware" >"$work/etc/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/etc/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::Archives=$work/archives"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" -q update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; echo "fetch-ptxas: apt-get update failed (log above)" >&2; exit 1; }

# ptxas has lived in nvidia-cuda-toolkit; newer Debian releases split it out.
cd "$work"
fetched=""
for package in nvidia-cuda-toolkit nvidia-cuda-toolkit-ptxas; do
  if apt-get "${apt_opts[@]}" -q download "$package" >>"$work/download.log" 2>&1; then
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
    rm -f "$work"/*.deb
    found="$(find "$work/root" -type f -name ptxas | head -n 1 || true)"
    if [[ -n "$found" ]]; then fetched="$found"; break; fi
  fi
done
if [[ -z "$fetched" ]]; then
  cat "$work/download.log" >&2 || true
  echo "fetch-ptxas: no package with ptxas could be downloaded from suite '$suite' (non-free). Check network access to the Debian archive." >&2
  exit 1
fi
mkdir -p "$dest/bin"
cp "$fetched" "$dest/bin/ptxas"
chmod +x "$dest/bin/ptxas"
"$dest/bin/ptxas" --version | tail -n 2
echo "ptxas installed at $dest/bin/ptxas"
