#!/usr/bin/env bash
# The portable kernels against the fast ones over a short training run, beside the fast
# kernels against themselves on one thread (the same ops, only their summation order changed):
#
#   bench/portable_check.sh                 # proposed and naive, seed 1, 50 steps
#   STEPS=200 SEEDS="1 2 3" bench/portable_check.sh
#
# For each rule and seed it trains `train --kernels fast` (all cores), `--kernels portable`
# and `--kernels fast` with one rayon thread, then prints bench/compare_losses.py's largest
# relative loss difference of portable and of the one-thread run against the first. A ReLU
# network's gradient jumps where a unit sits on a kink, so any change of summation order sends
# a few units' gradients another way and the runs drift apart by more than rounding; the
# one-thread run shows how far that drift goes with the same kernels. Environment: STEPS (50),
# SEEDS ("1"), STRATEGIES ("proposed naive"), OUT (target/portable-check), CARI_BIN
# (./target/release/cari-mtl, built first unless NO_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-50}
SEEDS=${SEEDS:-1}
STRATEGIES=${STRATEGIES:-proposed naive}
OUT=${OUT:-target/portable-check}
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release
fi
BIN=${CARI_BIN:-./target/release/cari-mtl}

train() {
    local out=$1
    shift
    "$BIN" train --device cpu --steps "$STEPS" --overwrite --out "$out" "$@" >/dev/null 2>&1 || {
        echo "portable_check: train $* failed (see $out)" >&2
        exit 1
    }
}

# The largest relative difference over the three losses, from compare_losses.py's report.
largest_loss_gap() {
    python3 bench/compare_losses.py "$1" "$2" | awk '/^  loss_/ { if ($2 > max) max = $2 } END { printf "%.3e", max }'
}

first_over() {
    python3 bench/compare_losses.py "$1" "$2" | sed -n 's/^first over [^:]*: \(step [0-9]*\).*/\1/p;s/^every loss.*/none/p'
}

printf '%-9s %4s  %-31s  %-31s\n' rule seed "portable vs fast" "fast 1 thread vs fast"
for strategy in $STRATEGIES; do
    for seed in $SEEDS; do
        dir=$OUT/$strategy/seed$seed
        train "$dir/fast" --strategy "$strategy" --seed "$seed" --kernels fast
        train "$dir/portable" --strategy "$strategy" --seed "$seed" --kernels portable
        RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 \
            train "$dir/fast-1-thread" --strategy "$strategy" --seed "$seed" --kernels fast
        ref=$dir/fast/metrics.csv
        printf '%-9s %4s  %-9s (over 1e-3: %-8s)  %-9s (over 1e-3: %-8s)\n' "$strategy" "$seed" \
            "$(largest_loss_gap "$ref" "$dir/portable/metrics.csv")" \
            "$(first_over "$ref" "$dir/portable/metrics.csv")" \
            "$(largest_loss_gap "$ref" "$dir/fast-1-thread/metrics.csv")" \
            "$(first_over "$ref" "$dir/fast-1-thread/metrics.csv")"
    done
done
