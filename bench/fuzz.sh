#!/usr/bin/env bash
# Fuzz the protocol-file parsers (WebCaricature View 2 / C2P folds / landmarks, CaVI pair lists)
# or the window's settings loader, with cargo fuzz. Not a test: CI does not run it.
#   bench/fuzz.sh [SECONDS] [protocols|settings]     (default 60 protocols)
# Needs cargo-fuzz (cargo install cargo-fuzz). This machine has only a stable toolchain, so the
# script lets it accept cargo-fuzz's -Z flags (RUSTC_BOOTSTRAP=1) and fuzzes without a
# sanitizer (-s none): coverage-guided libFuzzer, panics are the findings.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
target=${2:-protocols}
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 1; }
mkdir -p fuzz/corpus/protocols
printf '1\nAda Novak\tC00001\tP00001\nAda Novak\tC00001\tBo Lind\tP00001\n\0Ada Novak C00001\n\0Bo Lind P00001.png\n\0%s\0Ada Caricature/Ada\\Ada_c_1.png Ada Real/Ada\\Ada_r_1.png 1\n' \
  "$(for i in $(seq 1 17); do echo "$i $i"; done)" > fuzz/corpus/protocols/seed1
mkdir -p fuzz/corpus/settings
printf '{"seed": 3, "rates": {"lr": 0.001, "psi_lr": 0.01}, "strategies": [{"strategy": "Static", "static_weights": [0, 0, 1]}, {}], "projector": {"tsne": {"perplexity": 20}}}' > fuzz/corpus/settings/seed1
printf '{"seed": 1, "batch_size": 64, "max_steps": 600, "strategy": {"strategy": "Proposed"}}' > fuzz/corpus/settings/seed2
RUSTC_BOOTSTRAP=1 cargo fuzz run --release -s none "$target" "fuzz/corpus/$target" -- -max_total_time="$secs" -max_len=4096
