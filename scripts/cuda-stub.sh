#!/usr/bin/env bash
# Compile-checks the cgo backend of ptx/driver (package ptx/driver/gorgonia, build tag
# gorgonia, over gorgonia.org/cu) on a machine without a GPU or CUDA toolkit.
#
# It fetches Debian bookworm's non-free nvidia-cuda-dev package (CUDA 11.8) with apt-get
# download into a private folder, without installing it or changing the system's apt
# settings, and keeps only cuda.h (which includes nothing but libc headers) and the
# toolkit's link stub libcuda.so. Then it
#   - vets ptx/driver/... with -tags gorgonia against that header (this compiles the cgo code),
#   - links the gorgonia test binary against the stub and runs it, and the GPU device's
#     fake-driver tests built with -tags gorgonia, on package driver's fake libcuda
#     (ptx/driver/testdata/fakecuda.c) built as libcuda.so.1: the same conformance suite
#     (drivertest) and device checks the purego binding passes, through gorgonia.org/cu,
#   - loads the stub with the purego binding (TestLoadStubLibrary): every entry point that
#     package driver binds must exist in CUDA 11.8's libcuda, and its cuInit must fail with
#     CUDA_ERROR_STUB_LIBRARY, which the package reports as ErrNoDriver.
#
#   usage: scripts/cuda-stub.sh [DIR]   (default DIR: ${XDG_CACHE_HOME:-$HOME/.cache}/cuda-11.8-stub)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/cuda-11.8-stub}
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

if [[ ! -f $dir/include/cuda.h || ! -f $dir/stubs/libcuda.so ]]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
	src=/etc/apt/sources.list.d/debian.sources
	[[ -f $src ]] || { echo "cuda-stub: $src not found (Debian bookworm expected)" >&2; exit 1; }
	# the machine's own Debian source, with the non-free component alone
	sed -E 's/^Components:.*/Components: non-free/' "$src" > "$work/parts/nonfree.sources"
	opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
	      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
	apt-get "${opts[@]}" -qq update >&2
	(cd "$work" && apt-get "${opts[@]}" -qq download nvidia-cuda-dev >&2)
	# The package is large (about 750 MB); only two small files are kept.
	dpkg-deb --fsys-tarfile "$work"/nvidia-cuda-dev_*.deb |
		tar -x -C "$work/root" --wildcards ./usr/include/cuda.h './usr/lib/*/stubs/libcuda.so'
	mkdir -p "$dir/include" "$dir/stubs"
	cp "$work/root/usr/include/cuda.h" "$dir/include/"
	cp "$work"/root/usr/lib/*/stubs/libcuda.so "$dir/stubs/"
fi
echo "cuda-stub: CUDA 11.8 header and stub in $dir" >&2

command -v "${CC:-gcc}" >/dev/null || { echo "cuda-stub: no C compiler (${CC:-gcc}) for cgo" >&2; exit 1; }
export CGO_ENABLED=1 CGO_CFLAGS="-I$dir/include" CGO_LDFLAGS="-L$dir/stubs"
go vet -tags gorgonia ./ptx/driver/... ./ptx/gpu/...
bin=$(mktemp -d)
go test -tags gorgonia -c -o "$bin/gorgonia.test" ./ptx/driver/gorgonia
"${CC:-gcc}" -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$bin/libcuda.so.1" ptx/driver/testdata/fakecuda.c
LD_LIBRARY_PATH="$bin" "$bin/gorgonia.test" -test.count=1 -test.v | grep -E '^(--- |ok|FAIL|PASS)'
LD_LIBRARY_PATH="$bin" go test -tags gorgonia -count=1 -run 'FakeDriver|CUDABackend' -v ./ptx/gpu | grep -E '^(--- |ok|FAIL|PASS)'
rm -rf "$bin"
HUNGRY_CUDA_STUB="$dir/stubs/libcuda.so" go test -count=1 -run 'TestLoadStubLibrary' -v ./ptx/driver |
	grep -E '^(--- |ok|FAIL|PASS)'
echo "cuda-stub: gorgonia backend compiles, links and passes the fake-driver checks; the purego binding finds every entry point" >&2
