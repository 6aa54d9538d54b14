#!/usr/bin/env bash
# The reference workload (../shared/reference/BENCH-MODEL.md) in cari-mtl and in PyTorch,
# run alternately on this machine; prints the median ms/step, the median embedding-pass
# seconds and the ratio ours / PyTorch.
#
#   bench/compare.sh                      # CPU, 3 rounds of each, 50 steps per run
#   ROUNDS=5 STEPS=20 bench/compare.sh
#   DEVICE=cuda CARGO_FEATURES=cuda bench/compare.sh    # on a machine with a GPU (see README)
#
# Environment: PYTHON (default /tmp/torch-venv/bin/python if present, else python3) must have
# torch; DEVICE (cpu), ROUNDS (3), STEPS (50); CARGO_FEATURES is passed to the release build
# (which runs first, so compilation never overlaps a timing); NO_BUILD=1 skips the build;
# CARI_BIN names another cari-mtl binary to time (default ./target/release/cari-mtl).
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=${DEVICE:-cpu}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-50}
if [ -z "${PYTHON:-}" ]; then
    if [ -x /tmp/torch-venv/bin/python ]; then PYTHON=/tmp/torch-venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" -c "import torch" 2>/dev/null || {
    echo "compare.sh: $PYTHON has no torch; see bench/README.md" >&2
    exit 1
}

if [ "${NO_BUILD:-0}" != 1 ]; then
    if [ -n "${CARGO_FEATURES:-}" ]; then
        cargo build --release --features "$CARGO_FEATURES"
    else
        cargo build --release
    fi
fi
BIN=${CARI_BIN:-./target/release/cari-mtl}

echo "== machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); device $DEVICE; load $(cut -d' ' -f1-3 /proc/loadavg)"
ours=()
theirs=()
for round in $(seq 1 "$ROUNDS"); do
    line=$("$BIN" bench --reference --device "$DEVICE" --steps "$STEPS" | grep '^RESULT')
    echo "round $round cari-mtl: $line"
    ours+=("$line")
    line=$("$PYTHON" bench/torch_reference.py --device "$DEVICE" --steps "$STEPS" | grep '^RESULT')
    echo "round $round PyTorch:  $line"
    theirs+=("$line")
done

printf '%s\n' "${ours[@]}" >/tmp/compare_ours.$$
printf '%s\n' "${theirs[@]}" >/tmp/compare_theirs.$$
python3 - /tmp/compare_ours.$$ /tmp/compare_theirs.$$ <<'EOF'
import re, statistics, sys

def medians(path):
    rows = [dict(re.findall(r"(\w+)=([0-9.]+)", line)) for line in open(path) if line.strip()]
    return (statistics.median(float(r["step_ms"]) for r in rows),
            statistics.median(float(r["embed_s"]) for r in rows))

ours, theirs = medians(sys.argv[1]), medians(sys.argv[2])
print(f"{'':12}{'ms/step':>12}{'embed s':>12}")
print(f"{'cari-mtl':12}{ours[0]:12.1f}{ours[1]:12.3f}")
print(f"{'PyTorch':12}{theirs[0]:12.1f}{theirs[1]:12.3f}")
print(f"{'ours/PyTorch':12}{ours[0] / theirs[0]:12.2f}{ours[1] / theirs[1]:12.2f}")
EOF
rm -f /tmp/compare_ours.$$ /tmp/compare_theirs.$$
