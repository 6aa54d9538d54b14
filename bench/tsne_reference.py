#!/usr/bin/env python3
"""Reference t-SNE timings and quality for comparison with cari_mtl::embed::tsne.

Generates clustered Gaussian data (50 clusters in 128-d: centres ~ N(0, 1), points =
centre + N(0, 0.25^2), label = i % 50, numpy default_rng(seed)), writes it to
<out-dir>/tsne_data_<N>.csv (label, then the coordinates; no header) for the Rust example
`cargo run --release --example tsne_bench -- <csv>...`, then runs scikit-learn's and
openTSNE's t-SNE with their defaults (n_jobs=-1, i.e. all cores) and prints fit time,
kNN10 preservation and 2-D nearest-neighbour label agreement.

kNN preservation is computed exactly as in Rust: for each point, the share of its k nearest
neighbours in the input (squared Euclidean, self excluded) that are also among its k nearest
in the 2-D embedding, averaged over points.

Setup: python3 -m venv /tmp/tsne-venv && /tmp/tsne-venv/bin/pip install scikit-learn openTSNE
"""
import argparse
import os
import time

import numpy as np


def make_data(n, dim=128, clusters=50, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    labels = np.arange(n) % clusters
    data = centres[labels] + 0.25 * rng.normal(size=(n, dim))
    return data.astype(np.float32), labels


def knn_indices(x, k):
    """Exact k nearest neighbours (self excluded), blocked to bound memory."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(1)
    out = np.empty((len(x), k), dtype=np.int64)
    for s in range(0, len(x), 1024):
        blk = x[s:s + 1024]
        d = sq[s:s + len(blk), None] + sq[None, :] - 2.0 * blk @ x.T
        d[np.arange(len(blk)), np.arange(s, s + len(blk))] = np.inf
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, 1).argsort(1, kind="stable")
        out[s:s + len(blk)] = np.take_along_axis(part, order, 1)
    return out


def knn_preservation(high, low, k=10):
    a = knn_indices(high, k)
    b = knn_indices(low, k)
    hits = sum(len(np.intersect1d(a[i], b[i], assume_unique=True)) for i in range(len(a)))
    return hits / (len(a) * k)


def label_agreement(low, labels):
    nn = knn_indices(low, 1)[:, 0]
    return float(np.mean(labels[nn] == labels))


def run_sklearn(x, seed):
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=30.0, init="pca", learning_rate="auto",
                random_state=seed, n_jobs=-1).fit_transform(x)


def run_opentsne(x, seed):
    from openTSNE import TSNE

    return np.asarray(TSNE(n_components=2, perplexity=30.0, random_state=seed,
                           n_jobs=-1).fit(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--out-dir", default="/tmp")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", nargs="*", default=[], choices=["sklearn", "openTSNE"])
    args = ap.parse_args()

    methods = [(name, fn) for name, fn in [("scikit-learn", run_sklearn),
                                           ("openTSNE", run_opentsne)]
               if name.replace("scikit-learn", "sklearn") not in args.skip]
    # Warm-up on a small set so one-off imports / JIT / thread-pool start-up are not timed.
    warm, _ = make_data(300, seed=args.seed + 1)
    for _, fn in methods:
        fn(warm, args.seed)

    rows = []
    for n in args.sizes:
        x, labels = make_data(n, seed=args.seed)
        path = os.path.join(args.out_dir, f"tsne_data_{n}.csv")
        with open(path, "w") as f:
            for lab, row in zip(labels, x):
                f.write(f"{lab}," + ",".join(f"{v:.9g}" for v in row) + "\n")
        print(f"wrote {path}", flush=True)
        for name, fn in methods:
            t0 = time.perf_counter()
            y = fn(x, args.seed)
            secs = time.perf_counter() - t0
            knn = knn_preservation(x, y, 10)
            agree = label_agreement(y, labels)
            rows.append((name, n, secs, knn, agree))
            print(f"{name:<12} N={n:>6}  time {secs:7.2f} s  kNN10 {knn:.3f}  "
                  f"1-NN label {agree:.3f}", flush=True)


if __name__ == "__main__":
    main()
