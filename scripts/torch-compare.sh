#!/usr/bin/env bash
# Runs `hungry bench` and then PyTorch on the same shapes, one after the other on this
# machine, and prints the ratios (scripts/torch-compare.py says what each row is).
#
#   scripts/torch-compare.sh [torch-compare.py flags...]
#
# Both sides get 2 threads (GOMAXPROCS=2; torch.set_num_threads(2), OMP/OpenBLAS 2), and
# OpenBLAS runs unpinned: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed, as they pin
# it to one kernel family whatever the CPU. HUNGRY_BENCH_FLAGS adds flags to
# `hungry bench` (say --quick, with --quick for the script too). Needs Go and
# /usr/bin/python3 with python3-torch and python3-numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${TORCH_COMPARE_THREADS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/hungry" ./cmd/hungry
# shellcheck disable=SC2086 # HUNGRY_BENCH_FLAGS is a list of flags
GOMAXPROCS=$threads "$dir/hungry" bench --json ${HUNGRY_BENCH_FLAGS:-} >"$dir/bench.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/torch-compare.py \
	--hungry-json "$dir/bench.json" --threads "$threads" "$@"
