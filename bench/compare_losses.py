#!/usr/bin/env python3
"""Compare the losses of two runs row by row: metrics.csv of a reference run (e.g. the CPU's,
or the fast kernels') and of another (CUDA's, or the portable kernels').

    python3 bench/compare_losses.py REFERENCE/metrics.csv OTHER/metrics.csv [--tolerance 1e-3]

For every step both files have, each loss (and each weight) of OTHER is compared with
REFERENCE's relative to REFERENCE's: |other - ref| / |ref|. Prints the largest relative
difference per column with its step, the first step where any loss goes over the tolerance,
and exits 1 if any does (2 if the files cannot be compared: no common step, missing columns).
"""

import argparse
import csv
import sys

LOSSES = ["loss_verif", "loss_visual", "loss_cari"]
WEIGHTS = ["w_verif", "w_visual", "w_cari"]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in ["step"] + LOSSES + WEIGHTS if rows and c not in rows[0]]
    if not rows or missing:
        sys.exit(f"compare_losses: {path}: no rows or missing columns {missing}")
    return {int(r["step"]): r for r in rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    ref, other = read(args.reference), read(args.other)
    steps = sorted(set(ref) & set(other))
    if not steps:
        print("compare_losses: the two runs have no step in common", file=sys.stderr)
        sys.exit(2)
    worst = {c: (0.0, None) for c in LOSSES + WEIGHTS}
    first_over = None
    for step in steps:
        for column in LOSSES + WEIGHTS:
            a, b = float(ref[step][column]), float(other[step][column])
            rel = abs(b - a) / abs(a) if a != 0 else (0.0 if b == 0 else float("inf"))
            if rel > worst[column][0]:
                worst[column] = (rel, step)
            if column in LOSSES and rel > args.tolerance and first_over is None:
                first_over = (step, column, a, b, rel)
    print(f"{len(steps)} common steps ({steps[0]}..{steps[-1]}); largest relative difference:")
    for column, (rel, step) in worst.items():
        print(f"  {column:12} {rel:.3e}" + (f" at step {step}" if step is not None else ""))
    if first_over is None:
        print(f"every loss of every row within {args.tolerance:g} relative")
        return
    step, column, a, b, rel = first_over
    print(
        f"first over {args.tolerance:g}: step {step} {column} {a} vs {b} ({rel:.3e} relative)"
    )
    sys.exit(1)


if __name__ == "__main__":
    main()
