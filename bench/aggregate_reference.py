#!/usr/bin/env python3
"""Independent reference outputs for the gradient-combining rules in src/weighting/.

For a fixed set of gradient matrices G (T x D, written out below) this prints,
per rule and case, the update direction d (a D-vector) as Rust literals, computed
WITHOUT the crate's algorithms:

  mgda        scipy.optimize.nnls (Lawson-Hanson, exact active set) on the
              equivalent NNLS  min_{x>=0} ||[G^T; 1^T] x - e||  (x* = lambda*/(1+||d*||^2));
              cross-checked against cvxpy/Clarabel.  TorchJD's MGDA is an early-stopped
              Frank-Wolfe, so it is only reported, not used.
  pcgrad      TorchJD PCGrad, with torch.randperm patched to the fixed cyclic order
              (task i projects onto i+1, i+2, ... mod T) the Rust test also uses.
  cagrad      CAGrad's PRIMAL problem max_d min_i g_i.d s.t. ||d - g0|| <= c||g0||, whose
              solution is g0 + c||g0|| g_w/||g_w||; d = that / (1+c^2). Expected values: its
              KKT system over every active constraint set in 50-digit mpmath (a different
              parametrisation from the crate's dual-face enumeration). Cross-checks:
              cvxpy/Clarabel on the primal SOCP (tight tolerances; inaccurate for
              hugely unequal norms) and TorchJD CAGradWeighting (Clarabel defaults).
  imtl        numpy on explicit vectors: alpha = g1 U^T (D U^T)^{-1} (LibMTL's formula);
              where D U^T is singular, numpy lstsq min-norm solution of the documented
              fallback system; cross-checked against TorchJD IMTLG where K is well conditioned.
  nash_mtl    scipy.optimize.root (MINPACK hybrd) on K e^x = e^{-x} (log-parametrised),
              tasks with zero gradients dropped; infeasible cases listed.
  aligned_mtl TorchJD AlignedMTL in float64, times T (TorchJD averages, we sum).
  upgrad,     TorchJD UPGrad / DualProj with QuadprogProjector(norm_eps=0,
  dualproj    reg_eps=1e-13) (TorchJD's defaults regularise by 1e-4), cross-checked
              against scipy.optimize.nnls on min_{x>=0} ||G^T (u + x)||.
  famo        TorchJD scalarization.FAMO (lr 0.025, weight decay 1e-3, torch Adam) on a
              fixed loss sequence; coefficients = d(scalarised loss)/d(losses).
  db_mtl      numpy: beta = 0.9 -> the crate's documented norm-EMA rule;
              beta = 0 -> LibMTL's DB_MTL algorithm (EMA of gradient vectors, incl.
              its 1e-8) re-implemented on explicit vectors (the two coincide at beta = 0).

Requirements (PyPI): pip install "torchjd[full]==0.18.0" numpy scipy cvxpy
(tested with torch 2.15, numpy 2.4, scipy 1.17, cvxpy 1.9, clarabel 0.11, quadprog 0.1.14).

Usage:
  python3 bench/aggregate_reference.py                # print all blocks
  python3 bench/aggregate_reference.py --write-rust   # also rewrite the
      "// BEGIN GENERATED <block>" ... "// END GENERATED <block>" regions in src/weighting/*.rs
"""

import math
import pathlib
import re
import sys

import cvxpy as cp
import numpy as np
import scipy
import scipy.optimize
import torch
import torchjd
from importlib.metadata import version as _pkg_version
from torchjd._linalg._dual_cone import QuadprogProjector
from torchjd.aggregation import IMTLG, MGDA, AlignedMTL, CAGradWeighting, DualProj, PCGrad, UPGrad
from torchjd.scalarization import FAMO

torch.set_default_dtype(torch.float64)
TORCHJD_VERSION = _pkg_version("torchjd")

C_CAGRAD = 0.4
ZERO_SNAP = 1e-12  # ||d|| below this * max||g_i|| is printed as exact 0 where d is 0 by definition

CASES = {
    # three pairwise-conflicting gradients, full-rank K
    "conflict3": [[1.0, 2.0, -0.5, 0.3], [-1.5, 0.4, 1.0, -0.2], [0.3, -1.2, -0.8, 1.1]],
    # all pairwise dot products positive
    "aligned3": [[1.0, 0.5, 0.2, 0.1], [0.8, 1.0, 0.0, 0.3], [0.6, 0.4, 0.9, 0.2]],
    # g3 = 2 g1 (collinear), g2 conflicting
    "collinear3": [[1.0, -0.5, 0.25], [-0.7, 0.9, 0.4], [2.0, -1.0, 0.5]],
    # g1 = g2
    "identical3": [[0.5, 1.0, -0.3], [0.5, 1.0, -0.3], [-0.9, 0.2, 0.6]],
    # norms ~1e-6, ~1, ~1e3
    "unequal3": [[3e-7, 9e-7, -3e-7, 1e-7], [-0.5, 0.2, 0.8, 0.1], [700.0, -400.0, 100.0, 600.0]],
    # g2 = 0
    "zero_row3": [[1.0, -0.4, 0.3], [0.0, 0.0, 0.0], [-0.6, 0.8, 0.5]],
    # D = 1, mixed signs (0 in the hull)
    "d1_mixed": [[2.0], [-1.0], [3.0]],
    # D = 1, same sign
    "d1_aligned": [[1.0], [2.0], [4.0]],
    # T = 2 conflicting
    "conflict2": [[1.0, 0.2, -0.4], [-0.6, 0.9, 0.3]],
    # T = 2 exactly opposite
    "opposite2": [[1.0, -2.0, 0.5], [-1.0, 2.0, -0.5]],
    # all-zero G
    "all_zero3": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    # T = 3 in D = 2 (K singular, 0 not in the hull)
    "rank2_t3": [[1.0, 0.3], [-0.4, 1.0], [0.8, -0.5]],
    # 0 on an edge of the hull, mean orthogonal to it (CAGrad's g_w = 0 case)
    "cone_edge3": [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]],
    # T = 4, D = 6, generic
    "t4": [
        [0.9, -0.3, 0.5, 1.2, -0.7, 0.1],
        [-0.4, 1.1, -0.6, 0.2, 0.8, -0.5],
        [0.3, 0.6, 1.0, -0.9, -0.2, 0.7],
        [-1.0, -0.2, 0.4, 0.5, 0.9, 0.3],
    ],
}


def G_of(name):
    return np.array(CASES[name], dtype=np.float64)


def max_norm(G):
    return float(np.max(np.linalg.norm(G, axis=1)))


def snap(d, G):
    """Exact zeros where the direction is 0 by definition (within rounding)."""
    if np.linalg.norm(d) <= ZERO_SNAP * max(max_norm(G), 1e-300):
        return np.zeros_like(d)
    return d


def rel_dev(a, b, G):
    nb = np.linalg.norm(b)
    if nb > 0:
        return float(np.linalg.norm(a - b) / nb)
    s = max_norm(G)
    return float(np.linalg.norm(a) / s) if s > 0 else float(np.linalg.norm(a))


# ---------------------------------------------------------------- MGDA
def mgda_nnls(G):
    T, D = G.shape
    if max_norm(G) == 0:
        return np.zeros(D)
    A = np.vstack([G.T, np.ones((1, T))])
    b = np.zeros(D + 1)
    b[-1] = 1.0
    x, _ = scipy.optimize.nnls(A, b, maxiter=10000)
    lam = x / x.sum()
    return snap(G.T @ lam, G)


def mgda_cvxpy(G):
    T, _ = G.shape
    lam = cp.Variable(T)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(G.T @ lam)), [lam >= 0, cp.sum(lam) == 1])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-14, tol_gap_rel=1e-14, tol_feas=1e-14, max_iter=500)
    return G.T @ lam.value


def mgda_torchjd(G):
    return MGDA(epsilon=1e-12, max_iters=100000)(torch.tensor(G)).numpy()


# ---------------------------------------------------------------- PCGrad
def pcgrad_torchjd_fixed(G):
    """TorchJD PCGrad; its loop calls torch.randperm(T) once per task i, in order."""
    T = G.shape[0]
    calls = {"i": 0}
    original = torch.randperm

    def cyclic(n, *args, **kwargs):
        i = calls["i"]
        calls["i"] += 1
        return torch.tensor([(i + s) % n for s in range(n)])  # i first (skipped), then i+1, ...

    torch.randperm = cyclic
    try:
        d = PCGrad()(torch.tensor(G)).numpy()
    finally:
        torch.randperm = original
    assert calls["i"] == T
    return d


def pcgrad_numpy_fixed(G):
    T = G.shape[0]
    out = np.zeros(G.shape[1])
    for i in range(T):
        gi = G[i].copy()
        for s in range(1, T):
            j = (i + s) % T
            dot = gi @ G[j]
            if dot < 0 and G[j] @ G[j] > 0:
                gi = gi - dot / (G[j] @ G[j]) * G[j]
        out += gi
    return out


# ---------------------------------------------------------------- CAGrad
def cagrad_cvxpy(G, c=C_CAGRAD):
    """CAGrad's primal problem (paper, Eq. 2): max_d min_i g_i.d  s.t. ||d - g0|| <= c||g0||.

    Its solution is g0 + c||g0|| g_w/||g_w|| (the dual is min_w g_w.g0 + c||g0|| ||g_w||),
    so d = d_primal / (1 + c^2). Solving the primal avoids dividing by a tiny ||g_w||.
    Returns (d, zero_gw): zero_gw marks the documented convention g_w = 0 -> g0/(1+c^2),
    used when 0 is in the hull (exact NNLS) and the optimal value is 0.
    """
    T, D = G.shape
    g0 = G.mean(axis=0)
    phi = c * np.linalg.norm(g0)
    if phi == 0:
        return g0 / (1 + c * c), True
    d = cp.Variable(D)
    t = cp.Variable()
    prob = cp.Problem(cp.Maximize(t), [G @ d >= t, cp.norm(d - g0, 2) <= phi])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-15, tol_gap_rel=1e-15, tol_feas=1e-15, max_iter=1000)
    zero_in_hull = np.linalg.norm(mgda_nnls(G)) == 0.0
    if zero_in_hull and abs(t.value) <= 1e-9 * np.linalg.norm(g0) * max_norm(G):
        return g0 / (1 + c * c), True
    return d.value / (1 + c * c), False


def cagrad_mpmath(G, c=C_CAGRAD):
    """CAGrad's primal KKT in 50-digit arithmetic (expected values).

    Primal: max t s.t. g_i.d >= t, ||d - g0|| <= phi. At an optimum with g_mu != 0,
    d = g0 + phi u, u = sum_{i in A} beta_i g_i, ||u|| = 1, g_i.d = t on the active
    set A. For a fixed A with K_AA invertible: beta = (t K_AA^{-1} 1 - K_AA^{-1} a)/phi
    (a_i = g_i.g0) and ||u||^2 = 1 is a quadratic in t. Every A and root is tried and
    the primal-feasible candidate with the largest t is the optimum. The case g_w = 0
    (0 in the hull AND dist(g0, {d : G d >= 0}) <= phi, so t* = 0 is attained without
    the ball) gets the documented convention d = g0/(1+c^2).
    """
    import itertools

    import mpmath as mp

    mp.mp.dps = 50
    T, D = G.shape
    rows = [[mp.mpf(float(x)) for x in row] for row in G]
    cm = mp.mpf(c)
    g0 = [mp.fsum(rows[i][k] for i in range(T)) / T for k in range(D)]

    def dot(x, y):
        return mp.fsum(a * b for a, b in zip(x, y))

    phi = cm * mp.sqrt(dot(g0, g0))
    rescale = 1 + cm * cm
    convention = np.array([float(x / rescale) for x in g0])
    if phi == 0:
        return convention
    x, _ = scipy.optimize.nnls(G.T, -G.mean(axis=0), maxiter=10000)
    dist_to_cone = np.linalg.norm(G.T @ x)  # Moreau: g0 - Proj_cone(g0) = Proj_polar(g0) = -G^T x
    nonzero = G[np.linalg.norm(G, axis=1) > 0]
    units = nonzero / np.linalg.norm(nonzero, axis=1)[:, None]
    zero_in_hull = len(nonzero) < len(G) or np.linalg.norm(mgda_nnls(units)) < 1e-10
    if zero_in_hull and dist_to_cone <= float(phi) * (1 + 1e-9):
        return convention
    a = [dot(r, g0) for r in rows]
    scale = max(abs(v) for r in rows for v in r) ** 2
    best_t, best_d = None, None
    for size in range(1, T + 1):
        for A in itertools.combinations(range(T), size):
            K = mp.matrix([[dot(rows[i], rows[j]) for j in A] for i in A])
            try:
                Kinv = K**-1
            except (ZeroDivisionError, TypeError):  # mpmath's LU on an exactly singular K_AA
                continue
            ones = mp.matrix([1] * size)
            aa = mp.matrix([a[i] for i in A])
            p_, q_ = Kinv * ones, Kinv * aa
            qa = (ones.T * p_)[0]
            qb = -2 * (ones.T * q_)[0]
            qc = (aa.T * q_)[0] - phi**2
            disc = qb * qb - 4 * qa * qc
            if qa == 0 or disc < 0:
                continue
            for t in [(-qb + mp.sqrt(disc)) / (2 * qa), (-qb - mp.sqrt(disc)) / (2 * qa)]:
                beta = (t * p_ - q_) / phi
                u = [mp.fsum(beta[m] * rows[i][k] for m, i in enumerate(A)) for k in range(D)]
                d = [g0[k] + phi * u[k] for k in range(D)]
                if all(dot(r, d) >= t - mp.mpf(10) ** -40 * scale for r in rows):
                    if best_t is None or t > best_t:
                        best_t, best_d = t, d
    assert best_d is not None
    return np.array([float(x / rescale) for x in best_d])


def cagrad_torchjd(G, c=C_CAGRAD):
    K = torch.tensor(G @ G.T)
    weights = CAGradWeighting(c=c, norm_eps=0.0)(K).numpy()
    return (weights @ G) / (1 + c * c)


# ---------------------------------------------------------------- IMTL-G
def imtl_numpy(G):
    T, D = G.shape
    norms = np.linalg.norm(G, axis=1)
    active = [i for i in range(T) if norms[i] > 0]
    alpha = np.zeros(T)
    if not active:
        return np.zeros(D), "all-zero"
    Ga = G[active]
    n = norms[active]
    if len(active) == 1:
        alpha[active[0]] = 1.0
        return alpha @ G, "single"
    U_unit = Ga / n[:, None]
    Dm = Ga[0] - Ga[1:]
    Um = U_unit[0] - U_unit[1:]
    M = Dm @ Um.T
    v = Ga[0] @ Um.T
    sv = np.linalg.svd(M, compute_uv=False)
    if sv.min() > 1e-10 * sv.max():
        tail = np.linalg.solve(M.T, v)
        a = np.concatenate([[1 - tail.sum()], tail])
        how = "closed form"
    else:
        Ka = Ga @ Ga.T
        A = np.vstack([np.ones(len(active)), Ka[0] / n[0] - Ka[1:] / n[1:, None]])
        rhs = np.zeros(len(active))
        rhs[0] = 1.0
        a = np.linalg.lstsq(A, rhs, rcond=1e-10)[0]
        how = "min-norm fallback"
    alpha[active] = a
    return alpha @ G, how


def imtl_torchjd(G):
    return IMTLG()(torch.tensor(G)).numpy()


# ---------------------------------------------------------------- Nash-MTL
def nash_scipy(G):
    T, D = G.shape
    norms = np.linalg.norm(G, axis=1)
    active = [i for i in range(T) if norms[i] > 0]
    if not active:
        return np.zeros(D)
    Ga = G[active]
    # infeasible iff 0 in conv{g_i}: min-norm point of the unit vectors' hull is 0
    dmin = mgda_nnls(Ga / np.linalg.norm(Ga, axis=1)[:, None])
    if np.linalg.norm(dmin) < 1e-9:
        return None
    K = Ga @ Ga.T
    x0 = -np.log(np.sqrt(np.diag(K)))
    sol = scipy.optimize.root(lambda x: K @ np.exp(x) - np.exp(-x), x0, method="hybr", tol=1e-15)
    a = np.exp(sol.x)
    # residual check of the defining equation
    assert np.max(np.abs(a * (K @ a) - 1)) < 1e-10, (a, K)
    alpha = np.zeros(T)
    alpha[active] = a
    return alpha @ G


# ---------------------------------------------------------------- Aligned-MTL
def aligned_torchjd(G):
    T = G.shape[0]
    return AlignedMTL()(torch.tensor(G)).numpy() * T


# ---------------------------------------------------------------- UPGrad / DualProj
EXACT_PROJECTOR = QuadprogProjector(norm_eps=0.0, reg_eps=1e-13)


def box_nnls(G, u):
    x, _ = scipy.optimize.nnls(G.T, -(G.T @ u), maxiter=10000)
    return u + x


def upgrad_nnls(G):
    T = G.shape[0]
    return sum(G.T @ box_nnls(G, np.eye(T)[i]) for i in range(T)) / T


def dualproj_nnls(G):
    T = G.shape[0]
    return G.T @ box_nnls(G, np.full(T, 1.0 / T))


def torchjd_or_none(aggregator, G):
    if max_norm(G) == 0:
        return None  # trace normalisation divides 0 by 0
    try:
        return aggregator(torch.tensor(G)).numpy()
    except ValueError:
        return None


# ---------------------------------------------------------------- FAMO
FAMO_LOSSES = [
    [1.0, 2.0, 0.5],
    [0.9, 1.7, 0.49],
    [0.85, 1.2, 0.5],
    [0.7, 1.1, 0.45],
    [0.72, 0.8, 0.44],
    [0.6, 0.75, 0.30],
    [0.55, 0.7, 0.31],
    [0.5, 0.4, 0.2],
    [0.45, 0.35, 0.21],
]


def famo_torchjd():
    famo = FAMO(3, lr=0.025, weight_decay=1e-3)
    out = []
    for s in range(len(FAMO_LOSSES) - 1):
        values = torch.tensor(FAMO_LOSSES[s], requires_grad=True)
        scalar = famo(values)
        (grad,) = torch.autograd.grad(scalar, values)
        out.append(grad.numpy().copy())
        famo.update(torch.tensor(FAMO_LOSSES[s + 1]))
    return out


# ---------------------------------------------------------------- DB-MTL
DB_STEPS = [
    ("conflict3", [1.0, 2.0, 0.5]),
    ("aligned3", [0.9, 1.5, 0.6]),
    ("unequal3", [0.8, 1.0, 0.7]),
    ("zero_row3", [0.7, 0.9, 0.65]),
    ("identical3", [0.6, 0.8, 0.6]),
    ("collinear3", [0.5, 0.7, 0.5]),
]
DB_EPS = 1e-8


def db_norm_ema(beta):
    """The crate's documented rule on explicit vectors."""
    m = None
    out = []
    for name, losses in DB_STEPS:
        G = G_of(name)
        H = G / (np.array(losses) + DB_EPS)[:, None]  # gradients of log(L + eps)
        n = np.linalg.norm(H, axis=1)
        m = n.copy() if m is None else beta * m + (1 - beta) * n
        M = m.max()
        d = sum((M / n[i]) * H[i] for i in range(len(n)) if n[i] > 0)
        out.append(np.asarray(d, dtype=np.float64) * np.ones(G.shape[1]))
    return out


def db_libmtl_beta0():
    """LibMTL DB_MTL.backward with DB_beta = 0: buffer = current log-loss gradients."""
    out = []
    for name, losses in DB_STEPS:
        G = G_of(name)
        buf = G / (np.array(losses) + DB_EPS)[:, None]
        u = np.linalg.norm(buf, axis=1)
        alpha = u.max() / (u + 1e-8)
        out.append(sum(alpha[i] * buf[i] for i in range(len(u))))
    return out


# ---------------------------------------------------------------- output
def lit(x):
    """Shortest round-trip repr, which Rust parses to the same f64."""
    x = float(x)
    return "0.0" if x == 0 else repr(x)


def vec_lit(v):
    return "&[" + ", ".join(lit(x) for x in v) + "]"


def cases_block():
    lines = ["/// Gradient matrices (rows g_i) of the reference cases.", "#[rustfmt::skip]", "pub const CASES: &[(&str, &[&[f64]])] = &["]
    for name, rows in CASES.items():
        lines.append(f'    ("{name}", &[{", ".join(vec_lit(r) for r in rows)}]),')
    lines.append("];")
    return lines


def reference_block(rule, entries, source):
    lines = [
        f"/// Reference d per case: {source}.",
        "/// Regenerate: python3 bench/aggregate_reference.py --write-rust",
        "#[rustfmt::skip]",
        "const REFERENCE: &[(&str, &[f64])] = &[",
    ]
    for name, d, note in entries:
        lines.append(f'    ("{name}", {vec_lit(d)}), // {note}')
    lines.append("];")
    return lines


def main():
    blocks = {}
    blocks["cases"] = cases_block()

    # MGDA
    entries = []
    for name in CASES:
        G = G_of(name)
        d = mgda_nnls(G)
        dev_cvx = rel_dev(mgda_cvxpy(G), d, G)
        dev_fw = rel_dev(mgda_torchjd(G), d, G)
        entries.append((name, d, f"nnls; cvxpy {dev_cvx:.1e}, torchjd FW {dev_fw:.1e}"))
    blocks["mgda"] = reference_block("mgda", entries, f"scipy {scipy.__version__} nnls (exact active set)")

    # PCGrad
    entries = []
    for name in CASES:
        G = G_of(name)
        if max_norm(G) == 0:
            entries.append((name, np.zeros(G.shape[1]), "all-zero (TorchJD divides 0/0)"))
            continue
        d = snap(pcgrad_torchjd_fixed(G), G)
        dev = rel_dev(pcgrad_numpy_fixed(G), d, G)
        entries.append((name, d, f"torchjd, cyclic order; numpy {dev:.1e}"))
    blocks["pcgrad"] = reference_block("pcgrad", entries, f"TorchJD {TORCHJD_VERSION} PCGrad, fixed cyclic order")

    # CAGrad
    entries = []
    for name in CASES:
        G = G_of(name)
        d = snap(cagrad_mpmath(G), G)
        d_cvx, zero_gw = cagrad_cvxpy(G)
        note = f"mpmath primal KKT; cvxpy primal {rel_dev(d_cvx, d, G):.1e}"
        if zero_gw:
            note += "; g_w = 0 -> g0/(1+c^2) (TorchJD returns 0)"
        else:
            note += f"; torchjd {rel_dev(cagrad_torchjd(G), d, G):.1e}"
        entries.append((name, d, note))
    blocks["cagrad"] = reference_block(
        "cagrad", entries, f"50-digit mpmath enumeration of the primal KKT, c = {C_CAGRAD}"
    )

    # IMTL-G
    entries = []
    for name in CASES:
        G = G_of(name)
        d, how = imtl_numpy(G)
        d = snap(d, G)
        K = G @ G.T
        note = f"numpy {how}"
        if np.linalg.cond(K) < 1e8:
            note += f"; torchjd IMTLG {rel_dev(imtl_torchjd(G), d, G):.1e}"
        entries.append((name, d, note))
    blocks["imtl"] = reference_block("imtl", entries, "numpy on explicit vectors (LibMTL's formula)")

    # Nash-MTL
    entries = []
    infeasible = []
    for name in CASES:
        G = G_of(name)
        d = nash_scipy(G)
        if d is None:
            infeasible.append(name)
            continue
        entries.append((name, d, "scipy root"))
    lines = reference_block("nash_mtl", entries, f"scipy {scipy.__version__} root (hybr) on K a = 1/a")
    lines.append("/// Cases where 0 is in the hull of the non-zero gradients (no solution).")
    lines.append("#[rustfmt::skip]")
    lines.append("const INFEASIBLE: &[&str] = &[" + ", ".join(f'"{n}"' for n in infeasible) + "];")
    blocks["nash_mtl"] = lines

    # Aligned-MTL
    entries = []
    for name in CASES:
        G = G_of(name)
        d = snap(aligned_torchjd(G), G)
        entries.append((name, d, "torchjd x T"))
    blocks["aligned_mtl"] = reference_block(
        "aligned_mtl", entries, f"TorchJD {TORCHJD_VERSION} AlignedMTL (float64) times T"
    )

    # UPGrad / DualProj
    for rule, agg, nnls_fn in [
        ("upgrad", UPGrad(projector=EXACT_PROJECTOR), upgrad_nnls),
        ("dualproj", DualProj(projector=EXACT_PROJECTOR), dualproj_nnls),
    ]:
        entries = []
        default_agg = UPGrad() if rule == "upgrad" else DualProj()
        for name in CASES:
            G = G_of(name)
            ref_nnls = snap(nnls_fn(G), G)
            d = torchjd_or_none(agg, G)
            if d is None:
                entries.append((name, ref_nnls, "nnls (torchjd not applicable)"))
                continue
            d = snap(d, G)
            dev = rel_dev(ref_nnls, d, G)
            dflt = torchjd_or_none(default_agg, G)
            dev_default = rel_dev(dflt, d, G) if dflt is not None else float("nan")
            if dev < 1e-8:
                entries.append((name, d, f"torchjd reg 1e-13; nnls {dev:.1e}; torchjd defaults {dev_default:.1e}"))
            else:
                entries.append((name, ref_nnls, f"nnls (torchjd reg 1e-13 off by {dev:.1e}); torchjd defaults {dev_default:.1e}"))
        blocks[rule] = reference_block(rule, entries, f"TorchJD {TORCHJD_VERSION} QuadprogProjector / scipy nnls")

    # FAMO
    coeffs = famo_torchjd()
    lines = [
        f"/// Loss sequence and TorchJD {TORCHJD_VERSION} FAMO coefficients (lr 0.025, weight decay 1e-3).",
        "/// Regenerate: python3 bench/aggregate_reference.py --write-rust",
        "#[rustfmt::skip]",
        "const FAMO_LOSSES: &[&[f64]] = &[" + ", ".join(vec_lit(l) for l in FAMO_LOSSES) + "];",
        "#[rustfmt::skip]",
        "const FAMO_COEFFICIENTS: &[&[f64]] = &[" + ", ".join(vec_lit(c) for c in coeffs) + "];",
    ]
    blocks["famo"] = lines

    # DB-MTL
    lines = [
        "/// Steps (case, losses); d from numpy: beta 0.9 = documented norm-EMA rule,",
        "/// beta 0 = LibMTL's DB_MTL (vector EMA, incl. its 1e-8) on explicit vectors.",
        "/// Regenerate: python3 bench/aggregate_reference.py --write-rust",
        "#[rustfmt::skip]",
        "const DB_STEPS: &[(&str, &[f64])] = &["
        + ", ".join(f'("{n}", {vec_lit(l)})' for n, l in DB_STEPS)
        + "];",
        "#[rustfmt::skip]",
        "const DB_DIRECTIONS_BETA_09: &[&[f64]] = &[" + ", ".join(vec_lit(d) for d in db_norm_ema(0.9)) + "];",
        "#[rustfmt::skip]",
        "const DB_DIRECTIONS_BETA_0: &[&[f64]] = &[" + ", ".join(vec_lit(d) for d in db_libmtl_beta0()) + "];",
    ]
    blocks["db_mtl"] = lines

    versions = (
        f"// torch {torch.__version__}, torchjd {TORCHJD_VERSION}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, cvxpy {cp.__version__}"
    )
    for name, lines in blocks.items():
        print(f"// ===== {name}")
        print(versions)
        print("\n".join(lines))
        print()
    if "--write-rust" in sys.argv:
        write_rust(blocks)


TARGETS = {
    "cases": "reference_cases.rs",
    "mgda": "mgda.rs",
    "pcgrad": "pcgrad.rs",
    "cagrad": "cagrad.rs",
    "imtl": "imtl.rs",
    "nash_mtl": "nash_mtl.rs",
    "aligned_mtl": "aligned_mtl.rs",
    "upgrad": "upgrad.rs",
    "dualproj": "dualproj.rs",
    "famo": "famo.rs",
    "db_mtl": "db_mtl.rs",
}


def write_rust(blocks):
    src = pathlib.Path(__file__).resolve().parent.parent / "src" / "weighting"
    for name, file in TARGETS.items():
        path = src / file
        text = path.read_text()
        pattern = re.compile(
            r"(?P<indent>[ \t]*)// BEGIN GENERATED " + re.escape(name) + r" .*?\n.*?// END GENERATED " + re.escape(name),
            re.S,
        )
        match = pattern.search(text)
        if not match:
            raise SystemExit(f"no GENERATED {name} markers in {path}")
        indent = match.group("indent")
        body = "\n".join(indent + line for line in blocks[name])
        first_line = match.group(0).splitlines()[0]
        replacement = f"{first_line}\n{body}\n{indent}// END GENERATED {name}"
        text = text[: match.start()] + replacement + text[match.end() :]
        path.write_text(text)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
