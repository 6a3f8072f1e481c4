#!/usr/bin/env bash
# Checks the GPU backend on a machine that has an NVIDIA GPU and its driver, and nothing
# else: no Go, no CUDA toolkit, no C compiler. The binaries are built without cgo; the
# driver is loaded at run time with purego, so they link only the system's libc loader.
#
#   scripts/gpu-check.sh build [DIR]   on any machine: builds static (CGO_ENABLED=0)
#                                      binaries and the runner into DIR (default $TMPDIR/hungry-gpu-check)
#   DIR/run.sh                         on the GPU machine (copy DIR there): runs the checks
#                                      in under 8 minutes and prints a table at the end
#   scripts/gpu-check.sh [DIR]         both, on a GPU machine that also has Go
#
# The runner
#   - runs package driver's GPU test (every Backend operation on the real driver),
#   - runs every kernel of ptx/gpu on the GPU against the CPU device, on the small awkward
#     shapes of the interpreter tests and at the sizes of a 125M-parameter model,
#   - compares training steps on the GPU with the CPU's (tiny H3 and hybrid LMs, a d_model
#     256 hybrid),
#   - times the TF32 sgemm (TFLOP/s) and one training step of a 125M-parameter H3 LM,
#   - smoke-tests the CLI with --device cuda,
#   - and, where python3 with a CUDA-enabled torch exists, times torch.matmul (TF32) at
#     the same sizes for the ratios in the table.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
if [[ ${1:-} == build ]]; then
	mode=build
	shift
fi
dir=${1:-${TMPDIR:-/tmp}/hungry-gpu-check}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

export CGO_ENABLED=0
go test -c -o "$dir/gpu.test" ./ptx/gpu
go test -c -o "$dir/driver.test" ./ptx/driver
go build -o "$dir/hungry" ./cmd/hungry

cat > "$dir/torch_ref.py" <<'EOF'
# Times torch.matmul with TF32 tensor cores at the sizes of BenchmarkGPUSgemm.
import time
import torch

if not torch.cuda.is_available():
    raise SystemExit("torch has no CUDA device")
torch.backends.cuda.matmul.allow_tf32 = True
for n in (1024, 2048, 4096, 8192):
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / reps
    print(f"sgemm {n} {2 * n**3 / dt / 1e12:.1f}")
EOF

cat > "$dir/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the GPU checks built by scripts/gpu-check.sh build; prints a table at the end.
set -uo pipefail
cd "$(dirname "$0")"
command -v nvidia-smi >/dev/null && nvidia-smi -L

# The timeouts add up to 7.5 minutes.
step() { # name timeout log command...
	local name=$1 limit=$2 log=$3
	shift 3
	echo "== $name"
	timeout "$limit" "$@" > "$log" 2>&1
	local rc=$?
	tail -n 40 "$log"
	return $rc
}
verdict() { # rc log
	if [[ $1 == 0 ]] && grep -q -- '--- SKIP' "$2" && ! grep -q -- '--- PASS' "$2"; then
		echo "skipped: $(grep -m1 -o 'no GPU here ([^)]*)' "$2" || echo 'see the log')"
		return
	fi
	case $1 in 0) echo ok ;; 124) echo "TIMEOUT" ;; *) echo "FAIL (exit $1, see $2)" ;; esac
}

step "driver: Backend on the GPU" 45 driver.log ./driver.test -test.run '^TestGPU$' -test.v
r_driver=$?
step "kernels vs CPU, small shapes" 90 small.log ./gpu.test -test.run '^TestGPUKernelsSmall$' -test.v
r_small=$?
step "kernels vs CPU, 125M-model sizes" 75 full.log ./gpu.test -test.run '^TestGPUKernelsFullSize$' -test.v
r_full=$?
step "training steps vs CPU" 45 step.log ./gpu.test -test.run '^TestGPUTrainingStep$' -test.v
r_step=$?
step "benchmarks" 120 bench.log ./gpu.test -test.run '^$' -test.bench 'GPU' -test.benchtime 3x -test.v
r_bench=$?
step "hungry bench --device cuda --quick" 30 cli.log ./hungry bench --device cuda --quick
r_cli=$?
r_torch=skipped
if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
	step "torch reference" 45 torch.log python3 torch_ref.py
	r_torch=$?
else
	: > torch.log
fi

echo
echo "GPU check"
printf '%-44s %s\n' "driver Backend (TestGPU)" "$(verdict $r_driver driver.log)"
printf '%-44s %s\n' "every kernel vs CPU, small awkward shapes" "$(verdict $r_small small.log)"
printf '%-44s %s\n' "every kernel vs CPU, 125M-model sizes" "$(verdict $r_full full.log)"
printf '%-44s %s\n' "training steps vs CPU (loss, grads, AdamW)" "$(verdict $r_step step.log)"
printf '%-44s %s\n' "hungry bench --device cuda --quick" "$(verdict $r_cli cli.log)"
printf '%-44s %s\n' "benchmarks" "$(verdict $r_bench bench.log)"
printf '%-16s %14s %14s %8s\n' "sgemm (TF32)" "ours TFLOP/s" "torch TFLOP/s" "ratio"
for n in 1024 2048 4096 8192; do
	ours=$(awk -v n="$n" '$1 ~ "^BenchmarkGPUSgemm/"n"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "TFLOP/s") print $i }' bench.log)
	theirs=$(awk -v n="$n" '$1 == "sgemm" && $2 == n { print $3 }' torch.log)
	ratio=$(awk -v a="${ours:-0}" -v b="${theirs:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%-16s %14s %14s %8s\n' "$n³" "${ours:--}" "${theirs:--}" "$ratio"
done
ms=$(awk '$1 ~ /^BenchmarkGPUTrainStep/ { for (i = 2; i < NF; i++) if ($(i+1) == "ms/step") print $i }' bench.log)
tps=$(awk '$1 ~ /^BenchmarkGPUTrainStep/ { for (i = 2; i < NF; i++) if ($(i+1) == "tokens/s") print $i }' bench.log)
printf '%-44s %s\n' "train step, 125M H3, 8×1024 tokens" "${ms:--} ms/step, ${tps:--} tokens/s"
grep -h 'host fallback' bench.log | sed 's/^ */  /'
[[ $r_torch == skipped ]] && echo "torch: not available here (no ratios)"
exit $(( r_driver || r_small || r_full || r_step || r_bench || r_cli ))
EOF
chmod +x "$dir/run.sh"
echo "built $dir: gpu.test driver.test hungry torch_ref.py run.sh"

if [[ $mode == all ]]; then
	exec "$dir/run.sh"
fi
