#!/usr/bin/env bash
# Compare cari_mtl's t-SNE with scikit-learn and openTSNE on the same data.
#
#   bench/tsne_compare.sh                 # N = 2,000 and 10,000
#   SIZES="2000" bench/tsne_compare.sh    # other sizes
#
# Builds the Rust example first (so compilation never overlaps a timing), then runs
# bench/tsne_reference.py, which writes $TSNE_DATA_DIR/tsne_data_<N>.csv and times
# scikit-learn and openTSNE, then runs the Rust example on the same CSV files.
# The Python packages live in a venv at $TSNE_VENV (default /tmp/tsne-venv), created on
# first use with: pip install scikit-learn openTSNE numpy.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${TSNE_VENV:-/tmp/tsne-venv}
OUT=${TSNE_DATA_DIR:-/tmp}
SIZES=${SIZES:-"2000 10000"}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q scikit-learn openTSNE numpy
fi

cargo build --release --example tsne_bench
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== reference implementations (fit time only; kNN10 = exact 10-NN preservation)"
# shellcheck disable=SC2086
"$VENV/bin/python" bench/tsne_reference.py --out-dir "$OUT" --sizes $SIZES

echo "== cari_mtl (time = kNN + affinities + PCA init + 750 iterations)"
files=()
for n in $SIZES; do files+=("$OUT/tsne_data_$n.csv"); done
cargo run --release --example tsne_bench -- "${files[@]}"
