#!/usr/bin/env python3
"""What the gradient lens saw in a metrics.csv written with `cari-mtl train --lens ...`.

For the rows where the lens looked (and whose step lies in --from..--to), it prints the share
of rows where each pair's cosine is below 0 (the two tasks pull the shared layers apart), each
pair's mean cosine, each task's mean alignment cos(d, g_i), and which task the update serves
most: the task with the highest alignment, counted over the rows.

    python3 bench/lens_summary.py runs/p/metrics.csv runs/n/metrics.csv --from 300 --to 600
"""
import argparse
import csv
import sys

TASKS = ["verif", "visual", "cari"]
PAIRS = [("verif", "visual"), ("verif", "cari"), ("visual", "cari")]


def summarise(path, first, last):
    with open(path, newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r.get("grad_norm_verif") and first <= int(r["step"]) <= last
        ]
    if not rows:
        sys.exit(f"{path}: no rows with the lens in steps {first}..{last}")
    n = len(rows)
    print(f"{path}: {n} lens rows in steps {first}..{last}")
    for a, b in PAIRS:
        values = [float(r[f"grad_cos_{a}_{b}"]) for r in rows]
        negative = sum(v < 0 for v in values) / n
        print(f"    cos {a}·{b}: below 0 in {100 * negative:.1f} % of rows, mean {sum(values) / n:+.3f}")
    means = {t: sum(float(r[f"grad_align_{t}"]) for r in rows) / n for t in TASKS}
    most = {t: 0 for t in TASKS}
    for r in rows:
        most[max(TASKS, key=lambda t: float(r[f"grad_align_{t}"]))] += 1
    for t in TASKS:
        print(f"    cos(d, g_{t}): mean {means[t]:+.3f}, highest in {100 * most[t] / n:.1f} % of rows")
    top = max(TASKS, key=lambda t: most[t])
    print(f"    the update serves {top} most")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", nargs="+")
    p.add_argument("--from", dest="first", type=int, default=0)
    p.add_argument("--to", dest="last", type=int, default=10**12)
    args = p.parse_args()
    for path in args.csv:
        summarise(path, args.first, args.last)


if __name__ == "__main__":
    main()
