#!/usr/bin/env bash
# Checks the GPU backend on a machine that has an NVIDIA GPU and its driver, and nothing
# else: no Go, no module cache, no CUDA toolkit, no C compiler, no network. Everything is
# built here first, without cgo; the driver is loaded at run time with purego, so the
# binaries link only the system's libc loader.
#
#   scripts/gpu-check.sh build [DIR]   on any machine with Go: builds into DIR (default
#                                      $TMPDIR/hungry-gpu-check) the hungry binary, the test
#                                      executables of ptx/gpu and ptx/driver (go test -c),
#                                      the embedded PTX (ptx/, for ptxas or a JIT log), the
#                                      torch reference and the runner
#   DIR/run.sh                         on the GPU machine (copy DIR there): runs the checks
#                                      in under 5 minutes and prints one table at the end
#   scripts/gpu-check.sh fake [DIR]    here, without a GPU: builds, then runs DIR/run.sh on
#                                      package driver's fake libcuda (kernels do nothing, so
#                                      the correctness rows fail): exercises the runner and
#                                      its table
#   scripts/gpu-check.sh [DIR]         build and run, on a GPU machine that also has Go
#
# The runner
#   - runs package driver's GPU test (every Backend operation on the real driver),
#   - runs every kernel of ptx/gpu on the GPU against the CPU device, on the small awkward
#     shapes of the interpreter tests and at the sizes of a 125M-parameter model (L = 4096
#     and 8192 FFTs take the shared-memory opt-in path),
#   - compares training steps on the GPU with the CPU's,
#   - times the TF32 sgemm and one training step of a 125M-parameter H3 LM,
#   - times the H3 convolution (hungry bench --only h3conv: forward, and forward+backward,
#     at B=8 H=1024 L=256..8K and B=64 H=768 L=1K..8K, the device synchronized before each
#     timer stops) on whatever path the GPU device runs today,
#   - and, where python3 with a CUDA-enabled torch exists, times torch.matmul (TF32) and
#     the official H3 FFT convolution (torch.fft, i.e. cuFFT plus torch's pointwise
#     kernels) on the same shapes, for the ratios in the table. cuFFT alone, through the
#     driver loader, is not measured: it would need purego bindings of libcufft's plan
#     and exec calls, which the project does not have.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case ${1:-} in
build | fake)
	mode=$1
	shift
	;;
esac
dir=${1:-${TMPDIR:-/tmp}/hungry-gpu-check}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

export CGO_ENABLED=0
go test -c -o "$dir/gpu.test" ./ptx/gpu
go test -c -o "$dir/driver.test" ./ptx/driver
go build -o "$dir/hungry" ./cmd/hungry
rm -rf "$dir/ptx"
mkdir -p "$dir/ptx"
cp ptx/kernels/*.ptx "$dir/ptx/"
{
	echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
	go version
	echo "built $(date -u +%Y-%m-%dT%H:%MZ)"
} > "$dir/BUILD"

cat > "$dir/torch_ref.py" <<'EOF'
# Times torch.matmul with TF32 tensor cores at the sizes of BenchmarkGPUSgemm, and the
# official H3 FFT convolution (fftconv_ref, head_dim 1, gated by q) at the shapes of
# hungry bench --only h3conv.
import sys
import time
import torch

if not torch.cuda.is_available():
    raise SystemExit("torch has no CUDA device")


def timed(f, reps=5):
    for _ in range(2):
        f()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


torch.backends.cuda.matmul.allow_tf32 = True
for n in (1024, 2048, 4096, 8192):
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    dt = timed(lambda: a @ b, 10)
    print(f"sgemm {n} {2 * n**3 / dt / 1e12:.1f}", flush=True)
del a, b


def h3conv(q, k, v, kern, d, L):
    u = k * v
    n = 2 * L
    k_f = torch.fft.rfft(kern, n=n) / n
    u_f = torch.fft.rfft(u, n=n)
    y = torch.fft.irfft(u_f * k_f, n=n, norm="forward")[..., :L]
    return q * (y + u * d.unsqueeze(-1))


shapes = [(8, 1024, L) for L in (256, 1024, 2048, 4096, 8192)] + [(64, 768, L) for L in (1024, 4096, 8192)]
for B, H, L in shapes:
    try:
        q, k, v, dy = (torch.randn(B, H, L, device="cuda") for _ in range(4))
        kern = 0.1 * torch.randn(H, L, device="cuda")
        d = torch.randn(H, device="cuda")
        with torch.no_grad():
            fwd = timed(lambda: h3conv(q, k, v, kern, d, L))
        for t in (q, k, v, kern, d):
            t.requires_grad_(True)

        def fwd_bwd():
            for t in (q, k, v, kern, d):
                t.grad = None
            h3conv(q, k, v, kern, d, L).backward(dy)

        both = timed(fwd_bwd)
        print(f"h3conv B={B} H={H} L={L} {fwd * 1e3:.3f} {both * 1e3:.3f}", flush=True)
        del q, k, v, dy, kern, d
        torch.cuda.empty_cache()
    except torch.cuda.OutOfMemoryError:
        print(f"h3conv B={B} H={H} L={L} oom oom", flush=True)
        torch.cuda.empty_cache()
EOF

cat > "$dir/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the GPU checks built by scripts/gpu-check.sh build; prints one table at the end.
set -uo pipefail
cd "$(dirname "$0")"
cat BUILD
command -v nvidia-smi >/dev/null && nvidia-smi -L

# The timeouts add up to 285 seconds, so the whole run stays under 5 minutes.
step() { # name timeout log command...
	local name=$1 limit=$2 log=$3
	shift 3
	echo "== $name"
	timeout "$limit" "$@" > "$log" 2>&1
	local rc=$?
	tail -n 25 "$log"
	return $rc
}
verdict() { # rc log
	if [[ $1 == 0 ]] && grep -q -- '--- SKIP' "$2" && ! grep -q -- '--- PASS' "$2"; then
		echo "skipped: $(grep -m1 -o 'no GPU here ([^)]*)' "$2" || echo 'see the log')"
		return
	fi
	case $1 in 0) echo ok ;; 124) echo "TIMEOUT" ;; *) echo "FAIL (exit $1, see $2)" ;; esac
}

step "driver: Backend on the GPU" 25 driver.log ./driver.test -test.run '^TestGPU$' -test.v
r_driver=$?
step "kernels vs CPU, small shapes" 50 small.log ./gpu.test -test.run '^TestGPUKernelsSmall$' -test.v
r_small=$?
step "kernels vs CPU, 125M-model sizes" 45 full.log ./gpu.test -test.run '^TestGPUKernelsFullSize$' -test.v
r_full=$?
step "training steps vs CPU" 30 step.log ./gpu.test -test.run '^TestGPUTrainingStep$' -test.v
r_step=$?
step "benchmarks" 45 bench.log ./gpu.test -test.run '^$' -test.bench 'GPU' -test.benchtime 3x -test.v
r_bench=$?
step "hungry bench --device cuda --only h3conv" 45 h3conv.log \
	./hungry bench --device cuda --only h3conv --reps 3 --min-time 0 --max-time 2s
r_h3conv=$?
r_torch=skipped
if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
	step "torch reference (matmul, torch.fft H3 convolution)" 45 torch.log python3 torch_ref.py
	r_torch=$?
else
	: > torch.log
fi

echo
echo "GPU check ($(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo 'no nvidia-smi'))"
printf '%-52s %s\n' "driver Backend (TestGPU)" "$(verdict $r_driver driver.log)"
printf '%-52s %s\n' "every kernel vs CPU, small awkward shapes" "$(verdict $r_small small.log)"
printf '%-52s %s\n' "every kernel vs CPU, 125M-model sizes" "$(verdict $r_full full.log)"
printf '%-52s %s\n' "training steps vs CPU (loss, grads, AdamW)" "$(verdict $r_step step.log)"
printf '%-52s %s\n' "benchmarks" "$(verdict $r_bench bench.log)"
printf '%-52s %s\n' "H3 convolution timings (hungry bench)" "$(verdict $r_h3conv h3conv.log)"
printf '%-16s %14s %14s %8s\n' "sgemm (TF32)" "ours TFLOP/s" "torch TFLOP/s" "ratio"
for n in 1024 2048 4096 8192; do
	ours=$(awk -v n="$n" '$1 ~ "^BenchmarkGPUSgemm/"n"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "TFLOP/s") print $i }' bench.log)
	theirs=$(awk -v n="$n" '$1 == "sgemm" && $2 == n { print $3 }' torch.log)
	ratio=$(awk -v a="${ours:-0}" -v b="${theirs:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%-16s %14s %14s %8s\n' "$n³" "${ours:--}" "${theirs:--}" "$ratio"
done
ms=$(awk '$1 ~ /^BenchmarkGPUTrainStep/ { for (i = 2; i < NF; i++) if ($(i+1) == "ms/step") print $i }' bench.log)
tps=$(awk '$1 ~ /^BenchmarkGPUTrainStep/ { for (i = 2; i < NF; i++) if ($(i+1) == "tokens/s") print $i }' bench.log)
printf '%-52s %s\n' "train step, 125M H3, 8×1024 tokens" "${ms:--} ms/step, ${tps:--} tokens/s"
# hungry bench rows: "h3conv fwd B=8 H=1024 L=256   <fastest> ms (median ...": fields 3-5
# name the shape, field 6 is the fastest time in ms. torch.log: "h3conv B= H= L= fwd both".
printf '%-22s %11s %11s %7s %13s %13s %7s\n' "H3 conv (ms, fastest)" "ours fwd" "torch fwd" "ratio" "ours fwd+bwd" "torch f+b" "ratio"
for shape in "B=8 H=1024 L=256" "B=8 H=1024 L=1024" "B=8 H=1024 L=2048" "B=8 H=1024 L=4096" "B=8 H=1024 L=8192" \
	"B=64 H=768 L=1024" "B=64 H=768 L=4096" "B=64 H=768 L=8192"; do
	fwd=$(awk -v s="$shape" '$1 == "h3conv" && $2 == "fwd" && $3" "$4" "$5 == s { print $6 }' h3conv.log)
	both=$(awk -v s="$shape" '$1 == "h3conv" && $2 == "fwd+bwd" && $3" "$4" "$5 == s { print $6 }' h3conv.log)
	tf=$(awk -v s="$shape" '$1 == "h3conv" && $2" "$3" "$4 == s { print $5 }' torch.log)
	tb=$(awk -v s="$shape" '$1 == "h3conv" && $2" "$3" "$4 == s { print $6 }' torch.log)
	r1=$(awk -v a="${fwd:-0}" -v b="${tf:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else print "-" }')
	r2=$(awk -v a="${both:-0}" -v b="${tb:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else print "-" }')
	printf '%-22s %11s %11s %7s %13s %13s %7s\n' "$shape" "${fwd:--}" "${tf:--}" "$r1" "${both:--}" "${tb:--}" "$r2"
done
echo "(ratio = torch time / ours: above 1 means ours is faster; cuFFT alone is not measured, see gpu-check.sh)"
grep -h 'host fallback' bench.log | sed 's/^ */  /'
[[ $r_torch == skipped ]] && echo "torch: not available here (no ratios)"
exit $(( r_driver || r_small || r_full || r_step || r_bench || r_h3conv ))
EOF
chmod +x "$dir/run.sh"
bash -n "$dir/run.sh"
echo "built $dir: gpu.test driver.test hungry ptx/ torch_ref.py run.sh BUILD"

case $mode in
all)
	exec "$dir/run.sh"
	;;
fake)
	# package driver's fake libcuda, under the name the purego binding opens
	cc=${CC:-cc}
	lib=$(mktemp -d)
	trap 'rm -rf "$lib"' EXIT
	"$cc" -shared -fPIC -O1 -o "$lib/libcuda.so.1" ptx/driver/testdata/fakecuda.c
	out=$(LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$dir/run.sh" 2>&1) || true
	echo "$out" | sed -n '/^GPU check/,$p'
	for want in "^GPU check" "^driver Backend" "^H3 conv (ms, fastest)" "^B=64 H=768 L=8192 "; do
		if ! grep -q -- "$want" <<< "$out"; then
			echo "gpu-check fake: the runner's table lacks a line matching '$want'" >&2
			exit 1
		fi
	done
	echo "gpu-check fake: the runner ran on the fake driver and printed its table"
	;;
esac
