#!/usr/bin/env bash
# Assembles every embedded PTX module (ptx/kernels/*.ptx) with NVIDIA's ptxas for sm_80 and
# sm_90, fails on any error or register spill, and prints registers/spills per kernel.
# ptxas comes from scripts/fetch-ptxas.sh, cached in $PTXAS_CACHE_DIR
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/cuda-11.8-tools).
#
#   usage: scripts/ptxas-check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PTXAS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuda-11.8-tools}
bin=$(bash "$root/scripts/fetch-ptxas.sh" "$cache" | tail -n 1)
ptxas=$bin/ptxas
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
printf '%-8s %-28s %6s %12s %12s %8s\n' arch kernel regs spill_st_B spill_ld_B smem_B
for arch in sm_80 sm_90; do
  for f in "$root"/ptx/kernels/*.ptx; do
    log=$tmp/$(basename "$f" .ptx).$arch.log
    if ! "$ptxas" -arch="$arch" -v "$f" -o "$tmp/out.cubin" >"$log" 2>&1; then
      echo "ptxas-check: $(basename "$f") failed for $arch:" >&2
      cat "$log" >&2
      status=1
      continue
    fi
    # ptxas -v prints, per kernel: "Compiling entry function 'NAME'", then
    # "N bytes stack frame, S bytes spill stores, L bytes spill loads", then "Used R registers, ...".
    awk -v arch="$arch" '
      /Compiling entry function/ { match($0, /'"'"'[^'"'"']+'"'"'/); name = substr($0, RSTART+1, RLENGTH-2); smem = 0 }
      /bytes spill stores/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "bytes" && $(i+2) == "spill" && $(i+3) == "stores,") st = $i; if ($(i+1) == "bytes" && $(i+2) == "spill" && $(i+3) == "loads") ld = $i } }
      /Used [0-9]+ registers/ {
        for (i = 1; i <= NF; i++) { if ($i == "Used") regs = $(i+1); if ($(i+1) == "bytes" && $(i+2) ~ /^smem/) smem = $i }
        printf "%-8s %-28s %6s %12s %12s %8s\n", arch, name, regs, st, ld, smem
        if (st + 0 > 0 || ld + 0 > 0) spilled = 1
      }
      END { exit spilled }' "$log" || { echo "ptxas-check: register spills in $(basename "$f") for $arch" >&2; status=1; }
  done
done
exit $status
