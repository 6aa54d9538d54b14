#!/usr/bin/env python3
"""The paper's eq. (10) claim, measured on a metrics.csv written by `cari-mtl train`.

Losses are smoothed with TensorBoard's debiased EMA (default 0.9). Among rows after step
--after where the two largest smoothed losses differ by at least --gap, it prints the share
of rows where the run gives its LARGEST weight to the task with the largest smoothed loss
(proposed's claim) and the share where it gives that task its SMALLEST weight (naive's).

    python3 bench/eq10_check.py runs/p/metrics.csv runs/n/metrics.csv
"""
import argparse
import csv
import sys

TASKS = ["verif", "visual", "cari"]


def smooth(values, s):
    out, last = [], 0.0
    for i, x in enumerate(values):
        last = last * s + (1 - s) * x
        out.append(last / (1 - s ** (i + 1)))
    return out


def check(path, after, gap, s):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    losses = {t: smooth([float(r[f"loss_{t}"]) for r in rows], s) for t in TASKS}
    counted = largest = smallest = 0
    for i, r in enumerate(rows):
        if int(r["step"]) <= after:
            continue
        ls = sorted(((losses[t][i], t) for t in TASKS), reverse=True)
        if ls[0][0] - ls[1][0] < gap:
            continue
        hardest = ls[0][1]
        w = {t: float(r[f"w_{t}"]) for t in TASKS}
        counted += 1
        largest += max(w, key=w.get) == hardest
        smallest += min(w, key=w.get) == hardest
    first = {t: losses[t][min(9, len(rows) - 1)] for t in TASKS}
    last = {t: losses[t][-1] for t in TASKS}
    return rows[0]["strategy"], counted, largest, smallest, first, last


def follow(path, task, step, s):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    losses = {t: smooth([float(r[f"loss_{t}"]) for r in rows], s) for t in TASKS}
    hardest_at = weight_at = None
    held = 0
    for i, r in enumerate(rows):
        n = int(r["step"])
        if n < step:
            continue
        if hardest_at is None and max(TASKS, key=lambda t: losses[t][i]) == task:
            hardest_at = n
        w = {t: float(r[f"w_{t}"]) for t in TASKS}
        top = max(w, key=w.get) == task
        if weight_at is None and top:
            weight_at = n
        held += top
    after = sum(1 for r in rows if int(r["step"]) >= step)
    print(f"{path}: {rows[0]['strategy']}: {task} perturbed at step {step}; hardest (smoothed loss) from step {hardest_at}; "
          f"largest weight first at step {weight_at} ({None if weight_at is None else weight_at - step} steps later); "
          f"largest weight in {100.0 * held / max(after, 1):.1f}% of the {after} rows from step {step}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv", nargs="+")
    p.add_argument("--after", type=int, default=100)
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("--smoothing", type=float, default=0.9)
    p.add_argument("--follow", metavar="TASK@STEP", help="after a perturbation of TASK at STEP: when did TASK become the hardest (smoothed) and when did it first get the largest weight")
    a = p.parse_args()
    if a.follow:
        task, step = a.follow.split("@")
        for path in a.csv:
            follow(path, task, int(step), a.smoothing)
        return
    for path in a.csv:
        strategy, n, big, small, first, last = check(path, a.after, a.gap, a.smoothing)
        share = lambda k: 100.0 * k / n if n else float("nan")
        print(f"{path}: {strategy}: {n} rows counted; hardest task has the largest weight in {share(big):.1f}%, the smallest in {share(small):.1f}%")
        print("    smoothed loss at step 10 → end: " + ", ".join(f"{t} {first[t]:.3f} → {last[t]:.3f}" for t in TASKS))


if __name__ == "__main__":
    main()
