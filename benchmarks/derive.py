"""How the symbolic engine scales: time and nodes per family, with fitted growth exponents.

    python benchmarks/derive.py             # every family of benchmarks/families.py
    python benchmarks/derive.py --quick     # the two smallest sizes of each family
    python benchmarks/derive.py --only mlp --only transformer
    python benchmarks/derive.py --json out.json

For each family and size the caches are cleared, the expression is built, derived
(differentiated and simplified: ``derive``), compiled (``compile`` of the loss and every
derivative), and rendered (``str`` of the derivation and ``to_latex``).  Printed per size:
the seconds of each stage, the expression nodes the engine built, and the distinct nodes
of the results (the size of the answer as a DAG).  Per family: the growth exponent b of
time ≈ a·kᵇ, fitted by least squares on log–log, for the total and for the nodes, and the
exponent of time against the answer's size (DAG nodes of the results), which separates an
engine that is slow from an answer that is large.  PyTensor, tensorgrad and SymPy's own
``diff`` are timed on the cases they can do, when they are installed, as reference points.
This is a benchmark, not a test: the tests count nodes (tests/calculus/test_scaling.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matcalc as mc  # noqa: E402
from matcalc.core import algebra, budget, walk  # noqa: E402

import families  # noqa: E402


def exponent(xs, ys):
    """Least-squares slope of log y against log x (None with fewer than two usable points)."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else None


def measure(make, k, render=True):
    algebra.clear_caches()
    row = {"k": k}
    t0 = time.perf_counter()
    f, wrt, kind = make(k)
    t1 = time.perf_counter()
    with budget.limit({"nodes": None, "seconds": None}) as spent:
        derivation = mc.derive(f, wrt, kind=kind, budget=False)
        t2 = time.perf_counter()
        mc.compile([f, *derivation.results.values()], budget=False)
        t3 = time.perf_counter()
    row.update(build=t1 - t0, derive=t2 - t1, compile=t3 - t2, nodes=spent.used,
               answer=sum(1 for _ in walk.nodes(*derivation.results.values())))
    if render:
        t4 = time.perf_counter()
        try:
            with budget.limit({"nodes": None, "seconds": 120}):
                text = str(derivation)
                latex = mc.to_latex(derivation, template="fragment")
            row.update(render=time.perf_counter() - t4, text_chars=len(text), latex_chars=len(latex))
        except mc.BudgetError:
            row.update(render=float("nan"), text_chars=None, latex_chars=None)
    row["total"] = row["derive"] + row["compile"]
    return row


def fmt(seconds):
    if seconds != seconds:
        return "   >120 s"
    return f"{seconds:8.3f}s"


def run_family(title, make, sizes, render):
    print(f"\n{title}")
    print(f"  {'k':>4} {'derive':>9} {'compile':>9} {'render':>9} {'nodes':>8} {'answer':>7}")
    rows = []
    for k in sizes:
        row = measure(make, k, render)
        rows.append(row)
        print(f"  {k:>4} {fmt(row['derive'])} {fmt(row['compile'])} "
              f"{fmt(row['render']) if render else '        -'} {row['nodes']:>8} {row['answer']:>7}", flush=True)
    ks = [r["k"] for r in rows]
    fits = {"time": exponent(ks, [r["total"] for r in rows]),
            "nodes": exponent(ks, [r["nodes"] for r in rows]),
            "answer": exponent(ks, [r["answer"] for r in rows]),
            "time per answer": exponent([r["answer"] for r in rows], [r["total"] for r in rows])}
    if render:
        fits["render"] = exponent(ks, [r["render"] for r in rows if r["render"] == r["render"]][:len(ks)])
    print("  growth exponents: " + ", ".join(f"{name} {value:.2f}" for name, value in fits.items()
                                             if value is not None))
    return {"family": title, "rows": rows, "exponents": fits}


# ---------------------------------------------------------------- reference points

def sympy_reference():
    """SymPy's MatrixExpr.diff on the families it can do (x A^k xᵀ and log det)."""
    import sympy
    out = []
    n = sympy.Symbol("n", integer=True, positive=True)
    x, A = sympy.MatrixSymbol("x", 1, n), sympy.MatrixSymbol("A", n, n)
    for k in (5, 10, 20):
        expr = x * sympy.MatMul(*[A] * k) * x.T
        t = time.perf_counter()
        expr.diff(A)
        out.append(("SymPy diff, x A^k xᵀ", k, time.perf_counter() - t))
    return out


def pytensor_reference():
    """PyTensor: a pre-LN transformer block, pt.grad of every weight, then compiled."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    def layer_norm(Z, g, c):
        mu = Z.mean(axis=1, keepdims=True)
        var = ((Z - mu) ** 2).mean(axis=1, keepdims=True)
        return g * (Z - mu) / pt.sqrt(var + 1e-5) + c

    X, G = pt.matrix("X"), pt.matrix("G")
    names = ("Wq", "Wk", "Wv", "Wo", "W1", "W2")
    W = {n: pt.matrix(n) for n in names}
    g1, c1, g2, c2 = (pt.row(n) for n in ("g1", "c1", "g2", "c2"))
    t0 = time.perf_counter()
    H = layer_norm(X, g1, c1)
    S = pt.special.softmax((H @ W["Wq"]) @ (H @ W["Wk"]).T / 8, axis=1)
    R = X + S @ H @ W["Wv"] @ W["Wo"]
    H2 = layer_norm(R, g2, c2)
    out = R + pt.maximum(H2 @ W["W1"], 0) @ W["W2"]
    loss = (G * out).sum()
    grads = pt.grad(loss, [*W.values(), g1, g2])
    t1 = time.perf_counter()
    pytensor.function([X, G, *W.values(), g1, c1, g2, c2], [loss, *grads])
    t2 = time.perf_counter()
    del np
    return [("PyTensor, 1 pre-LN block: grad", 1, t1 - t0), ("PyTensor, 1 pre-LN block: compile", 1, t2 - t1)]


def tensorgrad_reference():
    """tensorgrad: the gradient of x A^k xᵀ wrt A, simplified (its tensor-network form)."""
    from sympy import symbols
    from tensorgrad import Variable
    import tensorgrad.functions as F
    i = symbols("i")
    x, A = Variable("x", i), Variable("A", i, j=i)
    out = []
    for k in (5, 10, 20):
        spec = "x -i- A1 " + " ".join(f"-j-i- A{m}" for m in range(2, k + 1)) + " -j-i- y"
        t = time.perf_counter()
        F.graph(spec, x=x, y=x, **{f"A{m}": A for m in range(1, k + 1)}).grad(A).simplify()
        out.append(("tensorgrad grad+simplify, x A^k xᵀ", k, time.perf_counter() - t))
    return out


def references():
    rows = []
    for name, probe in (("SymPy", sympy_reference), ("tensorgrad", tensorgrad_reference),
                        ("PyTensor", pytensor_reference)):
        try:
            rows.extend(probe())
        except ImportError:
            print(f"  {name}: not installed, skipped")
        except Exception as error:  # noqa: BLE001 - a reference that fails is reported, not fatal
            print(f"  {name}: failed ({type(error).__name__}: {error})")
    for name, k, seconds in rows:
        print(f"  {name:40s} k={k:<3} {seconds:8.3f}s")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smallest sizes of each family")
    parser.add_argument("--only", action="append", help="families whose function name contains this")
    parser.add_argument("--no-render", action="store_true", help="skip str() and to_latex()")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    print(f"matcalc {mc.__version__}: derivation benchmark (seconds; nodes = expression nodes built)")
    measure(families.power, 3)   # warm up: imports and SymPy's first calls are not the engine's cost
    results = []
    for title, (make, sizes) in families.FAMILIES.items():
        if args.only and not any(o in make.__name__ for o in args.only):
            continue
        results.append(run_family(title, make, sizes[:2] if args.quick else sizes, not args.no_render))
    print("\nreference points")
    reference_rows = references()
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"families": results, "references": reference_rows}, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
