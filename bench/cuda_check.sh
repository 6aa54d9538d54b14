#!/usr/bin/env bash
# Ready for a GPU: builds cari-mtl with CUDA, packs the binary small enough to carry to a GPU
# machine, and, where an NVIDIA GPU answers, runs the GPU checks.
#
#   bench/cuda_check.sh                     # build side (and GPU side where nvidia-smi answers)
#   CARI_BIN=./cari-mtl bench/cuda_check.sh # GPU side only, with a binary built elsewhere
#
# Build side (skipped when CARI_BIN names a binary):
#   1. installs the CUDA toolkit if `nvcc` is missing (Debian 12's nvidia-cuda-toolkit, CUDA
#      11.8, from the non-free component, which it enables in the apt sources if needed);
#   2. builds `cargo build --release --features cuda` into target/cuda (its own target folder,
#      so the CPU binary stays), with CUDA_COMPUTE_CAP from nvidia-smi where it answers, else
#      80 (CUDA 11.8 cannot build for 90: candle-kernels asks for compute_90a, which only CUDA
#      12 knows; PTX for 80 is compiled for sm_90 by the driver when first loaded);
#   3. strips the binary, compresses it with xz into target/cuda-check/cari-mtl.xz together
#      with a tar.xz that also holds the CUDA runtime it links (libcudart), checks both are
#      below 64 MiB and prints their sizes.
# GPU side (when `nvidia-smi` answers):
#   4. `bench --device cuda` for the tiny and the paper preset (steps/s);
#   5. `train --device cuda --steps $STEPS` and the same run on the CPU, and each loss of each
#      row compared (largest relative difference, and the first step over 1e-3);
#   6. the reference workload in both: `bench --reference --device cuda` and the PyTorch twin
#      (bench/torch_reference.py --device cuda), steps/s and the ratio ours / PyTorch (PyTorch
#      from PYTHON, default /tmp/torch-venv/bin/python, else python3; skipped, saying so,
#      where torch cannot be imported).
#
# Environment: CARI_BIN (a CUDA build to use instead of building), CUDA_COMPUTE_CAP (forces the
# capability), STEPS (200), BENCH_STEPS (50), OUT (target/cuda-check), PYTHON.
# On the project's shared 2-core machine run it under the build lock:
#   flock /tmp/cari-build.lock bench/cuda_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-200}
BENCH_STEPS=${BENCH_STEPS:-50}
OUT=${OUT:-target/cuda-check}
LIMIT_BYTES=$((64 * 1024 * 1024))
mkdir -p "$OUT"

gpu_answers() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_toolkit() {
    if command -v nvcc >/dev/null 2>&1; then
        return
    fi
    echo "== nvcc missing: installing Debian's nvidia-cuda-toolkit (non-free)"
    local sources=/etc/apt/sources.list.d/debian.sources
    if [ -f "$sources" ] && ! grep -q '^Components:.*non-free' "$sources"; then
        as_root sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' "$sources"
    fi
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nvidia-cuda-toolkit
    command -v nvcc >/dev/null 2>&1 || {
        echo "cuda_check: nvidia-cuda-toolkit installed but no nvcc on PATH" >&2
        exit 1
    }
}

# The compute capability to build for: CUDA_COMPUTE_CAP if set, else nvidia-smi's (e.g. 9.0 →
# 90), else 80; at most 89 with a CUDA 11 nvcc (see the header).
compute_cap() {
    local cap=${CUDA_COMPUTE_CAP:-}
    if [ -z "$cap" ] && gpu_answers; then
        cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '. ')
    fi
    cap=${cap:-80}
    local nvcc_major
    nvcc_major=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p' | head -n1)
    if [ "${nvcc_major:-0}" -lt 12 ] && [ "$cap" -ge 90 ]; then
        echo "== CUDA $nvcc_major cannot build for compute capability $cap (compute_90a); building PTX for 80, which the driver compiles for the GPU" >&2
        cap=80
    fi
    echo "$cap"
}

# "FILE: N bytes (M MiB)"; with `carried`, fails unless FILE is below the 64 MiB a GPU machine
# takes.
size_line() {
    local file=$1 carried=${2:-} bytes
    bytes=$(stat -c %s "$file")
    awk -v f="$file" -v b="$bytes" 'BEGIN { printf "%s: %d bytes (%.1f MiB)\n", f, b, b / 1048576 }'
    if [ -n "$carried" ] && [ "$bytes" -ge "$LIMIT_BYTES" ]; then
        echo "cuda_check: $file is not below 64 MiB" >&2
        return 1
    fi
}

build_side() {
    install_toolkit
    local cap
    cap=$(compute_cap)
    echo "== building with CUDA (nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p'), CUDA_COMPUTE_CAP=$cap)"
    local started=$SECONDS
    CUDA_COMPUTE_CAP=$cap cargo build --release --features cuda --target-dir target/cuda
    echo "== build took $((SECONDS - started)) s"
    local bin=target/cuda/release/cari-mtl
    size_line "$bin"
    strip -o "$OUT/cari-mtl" "$bin"
    size_line "$OUT/cari-mtl"
    xz -T0 -9 -c "$OUT/cari-mtl" >"$OUT/cari-mtl.xz"
    size_line "$OUT/cari-mtl.xz" carried
    # The CUDA runtime the binary links (the driver's libcuda comes with the GPU machine).
    local cudart
    cudart=$(ldd "$bin" | awk '/libcudart/ {print $3}' | head -n1)
    if [ -n "$cudart" ] && [ -f "$cudart" ]; then
        cp -L "$cudart" "$OUT/$(basename "$cudart")"
        tar -C "$OUT" -cJf "$OUT/cari-mtl-cuda.tar.xz" cari-mtl "$(basename "$cudart")"
        size_line "$OUT/cari-mtl-cuda.tar.xz" carried
        echo "== on a GPU machine: tar -xJf cari-mtl-cuda.tar.xz && LD_LIBRARY_PATH=. CARI_BIN=./cari-mtl bench/cuda_check.sh"
    else
        echo "== $bin links no libcudart that ldd can find; carry cari-mtl.xz alone"
    fi
    BIN=$bin
}

# Steps per second from a `bench` line: "... median 21.2 ms/step, 47.17 steps/s, ...".
steps_per_sec() {
    sed -n 's/.* \([0-9.]*\) steps\/s.*/\1/p' | tail -n1
}

# "step_ms=…" from a RESULT line.
result_ms() {
    sed -n 's/.*step_ms=\([0-9.]*\).*/\1/p' | tail -n1
}

gpu_side() {
    echo "== GPU: $(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader | head -n1)"
    for preset in tiny paper; do
        local line
        line=$("$BIN" bench --device cuda --preset "$preset" --steps "$BENCH_STEPS" | tail -n1)
        echo "bench $preset: $line"
    done

    echo "== train --steps $STEPS on cuda and on the CPU (seed 1, proposed)"
    local runs=$OUT/runs
    rm -rf "$runs"
    "$BIN" train --device cuda --steps "$STEPS" --seed 1 --out "$runs/cuda" >/dev/null
    "$BIN" train --device cpu --steps "$STEPS" --seed 1 --out "$runs/cpu" >/dev/null
    python3 bench/compare_losses.py "$runs/cpu/metrics.csv" "$runs/cuda/metrics.csv" || true

    echo "== reference workload (BENCH-MODEL.md) on cuda"
    local ours theirs
    ours=$("$BIN" bench --reference --device cuda --steps "$BENCH_STEPS" | grep '^RESULT' | result_ms)
    echo "cari-mtl: $ours ms/step"
    local python=${PYTHON:-}
    if [ -z "$python" ]; then
        if [ -x /tmp/torch-venv/bin/python ]; then python=/tmp/torch-venv/bin/python; else python=python3; fi
    fi
    if "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
        theirs=$("$python" bench/torch_reference.py --device cuda --steps "$BENCH_STEPS" | grep '^RESULT' | result_ms)
        echo "PyTorch:  $theirs ms/step"
        python3 -c "o, t = $ours, $theirs; print(f'steps/s: cari-mtl {1e3/o:.2f}, PyTorch {1e3/t:.2f}; cari-mtl / PyTorch = {t/o:.2f}')"
    else
        echo "PyTorch: not measured ($python has no torch with CUDA)"
    fi
}

if [ -n "${CARI_BIN:-}" ]; then
    BIN=$CARI_BIN
else
    build_side
fi
if gpu_answers; then
    gpu_side
else
    echo "== no GPU answers here (nvidia-smi): the GPU checks did not run, and no CUDA figure exists from this machine"
fi
