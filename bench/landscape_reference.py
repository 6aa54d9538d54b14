"""Independent reference numbers for src/weighting/landscape/{functions,pareto,adam}.rs.

The toy's forward pass is copied from Cranial-XIX/CAGrad toy.py (Toy.forward),
with the first-loss `scale` of Nash-MTL/FAMO experiments/toy/problem.py, and
evaluated in float64 (upstream uses float32 torch.Tensor). Gradients come from
torch autograd and paths from torch.optim.Adam, so the Rust side's hand-written
derivatives and Adam are checked against code they share nothing with.

Setup:   python3 -m venv bench/.venv && bench/.venv/bin/pip install numpy torch
Run:     bench/.venv/bin/python bench/landscape_reference.py [--full]
Output:  Rust literals to paste into src/weighting/landscape/reference.rs.
`--full` also runs mean and MGDA for 100,000 steps from all six starts.
"""

import math
import sys
import time

import torch

torch.set_default_dtype(torch.float64)
LOWER = 0.000005


def toy(x, scale=1.0):
    """toy.py Toy.forward, verbatim except float64 and the Nash/FAMO scale."""
    x1 = x[0]
    x2 = x[1]
    f1 = torch.clamp((0.5 * (-x1 - 7) - torch.tanh(-x2)).abs(), LOWER).log() + 6
    f2 = torch.clamp((0.5 * (-x1 + 3) + torch.tanh(-x2) + 2).abs(), LOWER).log() + 6
    c1 = torch.clamp(torch.tanh(x2 * 0.5), 0)
    f1_sq = ((-x1 + 7).pow(2) + 0.1 * (-x2 - 8).pow(2)) / 10 - 20
    f2_sq = ((-x1 - 7).pow(2) + 0.1 * (-x2 - 8).pow(2)) / 10 - 20
    c2 = torch.clamp(torch.tanh(-x2 * 0.5), 0)
    f1 = f1 * c1 + f1_sq * c2
    f1 = f1 * scale
    f2 = f2 * c1 + f2_sq * c2
    return f1, f2


def losses_grads(theta, scale=1.0):
    x = torch.tensor(theta, requires_grad=True)
    f1, f2 = toy(x, scale)
    g1 = torch.autograd.grad(f1, x, retain_graph=True)[0]
    g2 = torch.autograd.grad(f2, x)[0]
    return [f1.item(), f2.item()], [g1.tolist(), g2.tolist()]


def mgda_weights(g1, g2):
    diff = g1 - g2
    denom = torch.dot(diff, diff).item()
    if denom == 0.0:
        return 0.5, 0.5
    lam = min(max(torch.dot(g2, g2 - g1).item() / denom, 0.0), 1.0)
    return lam, 1.0 - lam


def run_adam(start, steps, rule, every, scale=1.0):
    """Adam path; records theta before steps 0, every, ... and the final theta."""
    x = torch.tensor(start, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.001)
    recorded = []
    for step in range(steps):
        if step % every == 0:
            recorded.append(x.detach().tolist())
        f1, f2 = toy(x, scale)
        g1 = torch.autograd.grad(f1, x, retain_graph=True)[0]
        g2 = torch.autograd.grad(f2, x)[0]
        lam1, lam2 = (0.5, 0.5) if rule == "mean" else mgda_weights(g1, g2)
        opt.zero_grad()
        x.grad = lam1 * g1 + lam2 * g2
        opt.step()
    recorded.append(x.detach().tolist())
    return recorded


def stationarity(theta, scale=1.0):
    _, (g1, g2) = losses_grads(theta, scale)
    g1, g2 = torch.tensor(g1), torch.tensor(g2)
    lam1, lam2 = mgda_weights(g1, g2)
    return torch.linalg.norm(lam1 * g1 + lam2 * g2).item()


def cross(x, y):
    _, (g1, g2) = losses_grads([x, y])
    return g1[0] * g2[1] - g1[1] * g2[0]


def pareto_y(x):
    """Scans y in [-11, -6] for a sign change of g1 x g2 that is Pareto-stationary."""
    ys = [-11.0 + 0.01 * i for i in range(501)]
    for lo, hi in zip(ys, ys[1:]):
        c_lo, c_hi = cross(x, lo), cross(x, hi)
        if c_lo == 0.0 or (c_lo > 0) != (c_hi > 0):
            while hi - lo > 1e-13:
                mid = 0.5 * (lo + hi)
                if (cross(x, mid) > 0) == (c_lo > 0):
                    lo = mid
                else:
                    hi = mid
            y = 0.5 * (lo + hi)
            if stationarity([x, y]) < 1e-9:
                return y
    return None


def fixed_points():
    """Generic points plus points on each side of every kink."""
    pts = [[-8.5, 7.5], [-8.5, -5.0], [9.0, 9.0], [0.0, 0.0], [-7.5, -0.5], [9.0, -1.0],
           [3.0, -8.0], [-2.0, 4.0], [10.0, -10.0], [-10.0, 10.0], [1.0, 20.0], [-4.0, -30.0]]
    # y = 0 switch between c1 (upper) and c2 (lower) gates.
    pts += [[0.5, 0.0], [0.5, 1e-3], [0.5, -1e-3], [-3.0, 1e-9], [-3.0, -1e-9]]
    # |u1| kink at x = -7 + 2 tanh(y), floor |u1| < 5e-6, and just outside it.
    for y in [0.7, 2.0]:
        x0 = -7 + 2 * math.tanh(y)
        pts += [[x0 + d, y] for d in (-2e-3, 2e-3, 1e-6, -1e-6, 4e-5, -4e-5)]
    # |u2| kink at x = 7 - 2 tanh(y).
    for y in [0.7, 3.0]:
        x0 = 7 - 2 * math.tanh(y)
        pts += [[x0 + d, y] for d in (-2e-3, 2e-3, 1e-6, -1e-6, 4e-5, -4e-5)]
    return pts


def rust_vec(v):
    return "[" + ", ".join(repr(float(a)) for a in v) + "]"


def print_points(name, scale):
    pts = fixed_points()
    print(f"/// (theta, losses, [g1, g2]) with first-loss scale {scale}.")
    print(f"pub const {name}: [Sample; {len(pts)}] = [")
    for p in pts:
        f, (g1, g2) = losses_grads(p, scale)
        print(f"    ({rust_vec(p)}, {rust_vec(f)}, [{rust_vec(g1)}, {rust_vec(g2)}]),")
    print("];")


def print_path(name, start, steps, rule, every, scale=1.0):
    t0 = time.time()
    path = run_adam(start, steps, rule, every, scale)
    print(f"/// {rule} from {start}, {steps} steps, lr 1e-3, scale {scale}, every {every} "
          f"({time.time() - t0:.1f} s in torch).")
    print(f"pub const {name}: [[f64; 2]; {len(path)}] = [")
    for p in path:
        print(f"    {rust_vec(p)},")
    print("];")
    return path[-1]


def main():
    full = "--full" in sys.argv
    print(f"// Generated by bench/landscape_reference.py with torch {torch.__version__} (float64).")
    print("/// A point θ, its losses [f1, f2] and its gradients [g1, g2].")
    print("pub type Sample = ([f64; 2], [f64; 2], [[f64; 2]; 2]);")
    print_points("POINTS", 1.0)
    print_points("POINTS_SCALED", 0.1)
    xs = [-7.0, -6.99, -5.0, -3.0, 0.0, 3.0, 5.0, 6.99, 7.0]
    ys = [pareto_y(x) for x in xs]
    print("/// (x, Pareto y) by bisection on autograd's g1 x g2.")
    print(f"pub const PARETO: [[f64; 2]; {len(xs)}] = [")
    for x, y in zip(xs, ys):
        print(f"    [{x!r}, {y!r}], // stationarity {stationarity([x, y]):.2e}")
    print("];")
    print_path("PATH_MEAN_A", [-8.5, 7.5], 2000, "mean", 100)
    print_path("PATH_MGDA_A", [-8.5, 7.5], 2000, "mgda", 100)
    print_path("PATH_MEAN_B", [9.0, -1.0], 2000, "mean", 100)
    print_path("PATH_MGDA_B", [9.0, -1.0], 2000, "mgda", 100)
    print_path("PATH_MEAN_SCALED_ORIGIN", [0.0, 0.0], 2000, "mean", 100, scale=0.1)
    last = print_path("PATH_MGDA_A_LONG", [-8.5, 7.5], 100000, "mgda", 100000)
    print(f"// MGDA (-8.5, 7.5) 100k: final {last}, stationarity {stationarity(last):.3e}")
    if full:
        starts = [[-8.5, 7.5], [-8.5, -5.0], [9.0, 9.0], [0.0, 0.0], [-7.5, -0.5], [9.0, -1.0]]
        print("/// (start, final theta) after 100,000 steps, mean then MGDA, unscaled.")
        print("pub const FINALS: [([f64; 2], [f64; 2], [f64; 2]); 6] = [")
        for s in starts:
            mean_last = run_adam(s, 100000, "mean", 100000)[-1]
            mgda_last = run_adam(s, 100000, "mgda", 100000)[-1]
            print(f"    ({rust_vec(s)}, {rust_vec(mean_last)}, {rust_vec(mgda_last)}),")
        print("];")


if __name__ == "__main__":
    main()
