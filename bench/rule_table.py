#!/usr/bin/env python3
"""The README's table of rules from one `compare --collect` results.json.

For each rule: Table I's headline metrics (mean ± sample sd over seeds, in %), Δm against the
three single-task runs, and the paired difference against `proposed` by seed with its 95 % t
interval (cari-id top-1, and Δm).

Δm follows LibMTL's definition: the mean over metrics k of (M_k − B_k)/B_k × 100 (every Table I
metric here is higher-is-better), where B_k is the single-task run that trains the metric's task:
single-verif for verification accuracy, AUC, VAL@FAR and C2P/P2C (which read the verification
embedding), single-visual for visual-id, single-cari for cari-id. Δm is computed per seed
(each seed's run against the single-task runs' means) so that it can be paired by seed too.

    python3 bench/rule_table.py docs/experiments/rules-3000.results.json
"""
import json
import math
import sys

VERIF = ["verif_acc", "auc", "val_far_0_1", "val_far_1", "c2p_rank1", "c2p_rank10", "p2c_rank1", "p2c_rank10"]
BASELINE = {m: "single-verif" for m in VERIF}
BASELINE["visual_id_top1"] = "single-visual"
BASELINE["cari_id_top1"] = "single-cari"
SHOWN = [("verif_acc", "verif acc"), ("visual_id_top1", "visual-id"), ("cari_id_top1", "cari-id"), ("c2p_rank1", "C2P R1")]
# Two-sided 95 % t quantiles by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_sd(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return m, sd


def interval(diffs):
    n = len(diffs)
    m, sd = mean_sd(diffs)
    if n < 2:
        return m, float("nan"), float("nan")  # callers ask for two or more
    h = T95.get(n - 1, 1.96) * sd / math.sqrt(n)
    return m, m - h, m + h


def by_seed(results, rule, metric):
    cell = results[rule][metric]
    return dict(zip(cell["seeds"], cell["values"]))


def delta_m(results, rule):
    """Δm per seed of `rule`, in %."""
    base = {m: sum(results[b][m]["values"]) / len(results[b][m]["values"]) for m, b in BASELINE.items()}
    seeds = results[rule]["cari_id_top1"]["seeds"]
    out = {}
    for s in seeds:
        terms = [(by_seed(results, rule, m)[s] - base[m]) / base[m] * 100 for m in BASELINE]
        out[s] = sum(terms) / len(terms)
    return out


def paired(a, b, scale=1.0):
    """The mean difference a − b over the seeds both have, with its 95 % t interval."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return f"— ({len(seeds)} common seed{'s' if len(seeds) != 1 else ''})"
    m, lo, hi = (x * scale for x in interval([a[s] - b[s] for s in seeds]))
    return f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def main(path):
    results = json.load(open(path))
    rules = [k for k in results if isinstance(results[k], dict) and "cari_id_top1" in results[k]]
    missing = [b for b in set(BASELINE.values()) if b not in rules]
    if missing:
        sys.exit(f"{path}: no {', '.join(sorted(missing))} runs: Δm needs the three single-task runs")
    multi = [r for r in rules if not r.startswith("single-")]
    dm = {r: delta_m(results, r) for r in multi}
    head = ["rule", "n"] + [name for _, name in SHOWN] + ["Δm %", "cari-id − proposed", "Δm − proposed"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * 2 + "---:|" * (len(head) - 2))
    order = sorted(multi, key=lambda r: -sum(dm[r].values()) / len(dm[r]))
    for r in order + sorted(set(rules) - set(multi)):
        n = len(results[r]["cari_id_top1"]["values"])
        cells = [f"`{r}`", str(n)]
        for m, _ in SHOWN:
            mu, sd = mean_sd(results[r][m]["values"])
            cells.append(f"{mu * 100:.1f} ± {sd * 100:.1f}")
        if r not in dm:  # a single-task run is the baseline: its Δm is 0 by definition
            cells += ["(baseline)", paired(by_seed(results, r, "cari_id_top1"), by_seed(results, "proposed", "cari_id_top1"), 100), "—"]
            print("| " + " | ".join(cells) + " |")
            continue
        mu, sd = mean_sd(list(dm[r].values()))
        cells.append(f"{mu:+.1f} ± {sd:.1f}")
        if r == "proposed":
            cells += ["—", "—"]
        else:
            cells.append(paired(by_seed(results, r, "cari_id_top1"), by_seed(results, "proposed", "cari_id_top1"), 100))
            cells.append(paired(dm[r], dm["proposed"]))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
