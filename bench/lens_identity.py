#!/usr/bin/env python3
"""Check a metrics.csv written with a static rule and the gradient lens (issue 25's "Done when"):
every lens row has the nine columns, and each alignment agrees with the same row's norms, cosines
and weights, cos(d, g_i) = Σ_j w_j‖g_j‖cos_ij / ‖d‖ with ‖d‖² = Σ_jk w_j w_k ‖g_j‖‖g_k‖ cos_jk
(true when d = Σ w_j g_j: constant weights, no centre term). Prints the largest deviation, the
rows with the lens, and the share of lens rows where the visual·cari cosine is exactly 0.

    cari-mtl train --strategy static --static-weights 0.5,0.3,0.2 --centre-loss 0 --lens z --steps 300 --out DIR
    python3 bench/lens_identity.py DIR/metrics.csv
"""
import csv
import math
import sys

T = ["verif", "visual", "cari"]
PAIR = {(0, 1): "verif_visual", (0, 2): "verif_cari", (1, 2): "visual_cari"}


def cos(r, i, j):
    if i == j:
        return 1.0
    return float(r["grad_cos_" + PAIR[(min(i, j), max(i, j))]])


def main(path):
    rows = list(csv.DictReader(open(path, newline="")))
    lens = [r for r in rows if r["grad_norm_verif"]]
    cols = [c for c in rows[0] if c.startswith("grad_")]
    assert len(cols) == 9, cols
    assert all(all(r[c] != "" for c in cols) for r in lens), "a lens row misses a column"
    worst = 0.0
    for r in lens:
        w = [float(r["w_" + t]) for t in T]
        n = [float(r["grad_norm_" + t]) for t in T]
        d2 = sum(w[j] * w[k] * n[j] * n[k] * cos(r, j, k) for j in range(3) for k in range(3))
        d = math.sqrt(d2)
        for i in range(3):
            expected = sum(w[j] * n[j] * cos(r, i, j) for j in range(3)) / d
            worst = max(worst, abs(expected - float(r["grad_align_" + T[i]])))
    zero = sum(1 for r in lens if float(r["grad_cos_visual_cari"]) == 0.0)
    steps = [int(r["step"]) for r in lens]
    print(f"{path}: {len(lens)} of {len(rows)} rows with the lens (steps {steps[:3]}…{steps[-1]})")
    print(f"largest |cos(d, g_i) − Σ_j w_j‖g_j‖cos_ij/‖d‖| = {worst:.2e}")
    print(f"visual·cari cosine exactly 0 on {zero} of {len(lens)} lens rows")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
