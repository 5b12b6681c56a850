"""Per-call time of matcalc's compiled loss+gradient on each of its backends against
hand-written NumPy, JAX (jit of value_and_grad), PyTorch autograd and HIPS autograd, side
by side in one run.

    python benchmarks/bench.py              # the full set, float64, one pinned thread
    python benchmarks/bench.py --quick      # small shapes, a few seconds
    python benchmarks/bench.py --float32    # also every gradient workload in float32
    python benchmarks/bench.py --markdown   # also print the README's table
    python benchmarks/bench.py --json out.json

matcalc runs as ``mc.compile(...)`` on NumPy arrays, with ``backend="jax"`` on JAX arrays,
with ``backend="torch"`` on PyTorch tensors, and (the default backend) on PyTorch tensors
through its array-API variant.  Each backend has a target, the framework it runs on:
hand-written NumPy, JAX's jit of its own autodiff, PyTorch's autograd; the table says
whether it is met.

Every implementation runs on one thread (the *_NUM_THREADS variables are set before NumPy
is imported), pinned to one core (``--cpu``).  Each result is first checked against the
hand-written NumPy one; then the calls are interleaved round by round in a shuffled order,
and the table gives
each one's median time and its median ratio to hand-written NumPy over the rounds (< 1 is
faster; a ratio taken within a round cancels changes of the machine's load).  The data are
arguments of every function, the frameworks' as matcalc's: a jitted closure would make them
compile-time constants.  Missing frameworks are skipped.  This is a benchmark, not a test.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import matcalc as mc  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = None
try:
    import torch
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
except ImportError:
    torch = None
try:
    import array_api_compat
except ImportError:
    array_api_compat = None
try:
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = None

# The columns, in order: matcalc's backends, then the reference points.
HAND = "hand-written NumPy"
MC_NUMPY, MC_JAX, MC_TORCH, MC_ARRAY_API = ("matcalc NumPy", "matcalc backend='jax'", "matcalc backend='torch'",
                                            "matcalc array-API on torch")
JAX_AD, TORCH_AD, HIPS = "JAX jit(autodiff)", "PyTorch autodiff", "HIPS autograd"
COLUMNS = (HAND, MC_NUMPY, MC_JAX, MC_TORCH, MC_ARRAY_API, JAX_AD, TORCH_AD, HIPS)
TARGETS = {MC_NUMPY: HAND, MC_JAX: JAX_AD, MC_TORCH: TORCH_AD}
"""Each backend of matcalc and the implementation it is to be at or below."""


# ---------------------------------------------------------------- timing

def agree(name, got, expected, rtol):
    for g, e in zip(got, expected):
        g = np.asarray(g, dtype=np.float64).reshape(np.shape(e))
        if not np.allclose(g, e, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(e))))):
            raise AssertionError(f"{name} disagrees with hand-written NumPy "
                                 f"(max difference {np.max(np.abs(g - e)):.3g})")


class Table:
    def __init__(self, options):
        self.rows = []
        self.options = options

    def workload(self, title, short, implementations, rtol=1e-6):
        """implementations: name -> (setup() -> callable returning outputs) or None if missing.

        The calls are interleaved round by round (one call of each implementation per
        round, in an order shuffled each round: what runs just before a call, and the memory
        it leaves, changes a call's time), so a change in machine load affects every
        implementation alike; a ratio is the median over the rounds of the round's time over
        hand-written NumPy's."""
        print(f"\n{title}: checking …")
        calls, expected = {}, None
        for name, setup in implementations.items():
            if setup is None:
                print(f"  {name:28s} not installed, skipped")
                continue
            try:
                fn = setup()
                out = fn()
                if expected is None:
                    expected = [np.asarray(o, dtype=np.float64) for o in out]
                else:
                    agree(name, out, expected, rtol)
                fn()   # warm-up
            except Exception as exc:   # report a framework failure and go on with the others
                print(f"  {name:28s} failed: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            calls[name] = fn
        times = {name: [] for name in calls}
        order, shuffle = list(calls.items()), random.Random(0).shuffle
        self._rounds(order, times, shuffle, self.options.min_rounds)
        # an implementation far slower than the others (torch.func.hessian) has had its rounds:
        # the budget goes to the ones whose ratios are close
        fastest = min(statistics.median(t) for t in times.values())
        order = [(name, fn) for name, fn in order if statistics.median(times[name]) < 20 * fastest]
        start, budget = time.perf_counter(), self.options.seconds * len(order)
        while time.perf_counter() - start < budget and min(len(times[name]) for name, _ in order) < 200:
            self._rounds(order, times, shuffle, 1)
        base = times.get(HAND)
        row = {"workload": title, "short": short, "ms": {}, "ratio": {}, "vs_target": {}, "calls": {}}
        for name, t in times.items():
            row["ms"][name] = statistics.median(t) * 1e3
            row["calls"][name] = len(t)
            row["ratio"][name] = statistics.median(a / b for a, b in zip(t, base)) if base else None
            if TARGETS.get(name) in times:
                row["vs_target"][name] = statistics.median(a / b for a, b in zip(t, times[TARGETS[name]]))
        report(row)
        self.rows.append(row)
        return row

    @staticmethod
    def _rounds(order, times, shuffle, rounds):
        """``rounds`` rounds of one call of each implementation of ``order``, shuffled."""
        for _ in range(rounds):
            shuffle(order)
            for name, fn in order:
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)

    def markdown(self) -> str:
        """The README's table: each workload's ratios to hand-written NumPy, ✓ where a
        backend of matcalc is at or below its target."""
        columns = [c for c in COLUMNS[1:] if any(c in row["ratio"] for row in self.rows)]
        lines = ["| workload | NumPy (ms) | " + " | ".join(columns) + " | targets met |",
                 "|---" * (len(columns) + 3) + "|"]
        for row in self.rows:
            cells = []
            for c in columns:
                ratio, relative = row["ratio"].get(c), row["vs_target"].get(c)
                mark = "" if relative is None else " ✓" if relative <= 1.0 else " ✗"
                cells.append("" if ratio is None else f"{ratio:.2f}×{mark}")
            met = [relative <= 1.0 for relative in row["vs_target"].values()]
            hand = row["ms"].get(HAND)
            lines.append(f"| {row['short']} | {'' if hand is None else f'{hand:.3g}'} | " + " | ".join(cells)
                         + f" | {sum(met)}/{len(met)} |")
        return "\n".join(lines)


def report(row):
    """Print one workload's row: each implementation's median time, ratio to hand-written
    NumPy and, for matcalc's backends, the ratio to its target."""
    print(f"\n{row['workload']}")
    for name, ms in row["ms"].items():
        ratio = row["ratio"][name]
        ratio = "   n/a" if ratio is None else f"{ratio:6.2f}x"
        relative = row["vs_target"].get(name)
        met = "" if relative is None else \
            f"{'yes' if relative <= 1.0 else 'NO '}: {relative:.3f}x {TARGETS[name]}"
        print(f"  {name:28s} {ms:10.3f} ms   {ratio}   ({row['calls'][name]} calls)   {met}")


def combined(runs):
    """The rows of several runs (separate processes) as one: per workload and implementation
    the median of the runs' medians and ratios (a process's memory layout moves a whole
    run's times by a few percent, which the median over runs takes out)."""
    rows = []
    for row in runs[0]:
        same = [r for run in runs for r in run if r["workload"] == row["workload"]]
        merged = {"workload": row["workload"], "short": row["short"], "ms": {}, "ratio": {}, "vs_target": {},
                  "calls": {}}
        for field in ("ms", "ratio", "vs_target"):
            for name in row[field]:
                values = [r[field][name] for r in same if r[field].get(name) is not None]
                merged[field][name] = statistics.median(values) if values else None
        for name in row["calls"]:
            merged["calls"][name] = sum(r["calls"].get(name, 0) for r in same)
        rows.append(merged)
    return rows


def matcalc_setups(exprs, arrays, dtype, *, single=False):
    """The setups of matcalc's four columns: the compiled ``exprs`` called on ``arrays``
    (NumPy), on JAX arrays with backend="jax", on tensors with backend="torch" and on
    tensors with the default backend (its array-API variant)."""
    def run(backend, convert, wrap=None):
        def setup():
            fn = mc.compile(exprs, dtype=dtype, backend=backend)
            args = {k: convert(v) for k, v in arrays.items() if k in fn.inputs}
            call = functools.partial(fn, **args)   # no Python frame of the harness's own in the timing
            return (lambda: wrap(call())) if wrap else call
        return setup

    as_tuple = (lambda out: (out,)) if single else None
    setups = {MC_NUMPY: run("numpy", lambda a: a, as_tuple), MC_JAX: None, MC_TORCH: None, MC_ARRAY_API: None}
    if jax:
        setups[MC_JAX] = run("jax", jax.device_put,
                             lambda out: jax.block_until_ready((out,) if single else out))
    if torch:
        setups[MC_TORCH] = run("torch", torch.from_numpy, as_tuple)
        if array_api_compat:
            setups[MC_ARRAY_API] = run("numpy", torch.from_numpy, as_tuple)
    return setups


# ---------------------------------------------------------------- OLS

def ols(table, n, d, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal((1, n)).astype(dtype)
    w = rng.standard_normal((1, d)).astype(dtype)
    Xs, ys, ws = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    r = ys - ws * Xs.T
    loss = r * r.T / (2 * mc.dim("n"))
    name = np.dtype(dtype).name

    def numpy_setup():
        def f():
            res = y - w @ X.T
            return (res @ res.T).item() / (2 * n), -(res @ X) / n
        return f

    def jax_setup():   # the data are arguments, as they are matcalc's (a closure would make them constants)
        Xj, yj, wj = (jax.device_put(a) for a in (X, y, w))
        f = jax.jit(jax.value_and_grad(lambda w_, X_, y_: jnp.sum((y_ - w_ @ X_.T) ** 2) / (2 * n)))
        return lambda: jax.block_until_ready(f(wj, Xj, yj))

    def torch_setup():
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        wt = torch.from_numpy(w.copy()).requires_grad_()

        def f():
            wt.grad = None
            value = torch.sum((yt - wt @ Xt.T) ** 2) / (2 * n)
            value.backward()
            return value.item(), wt.grad
        return f

    def autograd_setup():
        f = autograd.value_and_grad(lambda w_: anp.sum((y - anp.dot(w_, X.T)) ** 2) / (2 * n))
        return lambda: f(w)

    return table.workload(f"OLS loss+gradient, n={n}, d={d}, {name}", f"OLS {n // 1000}k×{d}, {_short(name)}", {
        HAND: numpy_setup,
        **matcalc_setups([loss, mc.gradient(loss, ws)], {"X": X, "y": y, "w": w}, name),
        JAX_AD: jax_setup if jax else None,
        TORCH_AD: torch_setup if torch else None,
        HIPS: autograd_setup if autograd else None,
    }, rtol=1e-5 if dtype == np.float64 else 1e-2)


def _short(dtype_name):
    return {"float64": "f64", "float32": "f32"}[dtype_name]


# ---------------------------------------------------------------- MLP

def mlp_expressions():
    N, d, h, K = "N", "d", "h", "K"
    X, Y = mc.matrix("X", N, d), mc.matrix("Y", N, K, onehot=True)
    W1, b1, W2, b2 = mc.matrix("W1", d, h), mc.rowvec("b1", h), mc.matrix("W2", h, K), mc.rowvec("b2", K)
    A1 = mc.sigmoid(X * W1 + mc.ones(N, 1) * b1)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(A1 * W2 + mc.ones(N, 1) * b2)))) / mc.dim(N)
    return loss, [W1, b1, W2, b2]


def mlp(table, N, d, h, K, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, d)).astype(dtype)
    Y = np.eye(K, dtype=dtype)[rng.integers(0, K, N)]
    W1 = (rng.standard_normal((d, h)) / np.sqrt(d)).astype(dtype)
    b1 = np.zeros((1, h), dtype)
    W2 = (rng.standard_normal((h, K)) / np.sqrt(h)).astype(dtype)
    b2 = np.zeros((1, K), dtype)
    loss, params = mlp_expressions()
    name = np.dtype(dtype).name

    def numpy_setup():
        def f():
            A1 = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
            Z2 = A1 @ W2 + b2
            Z2 = Z2 - Z2.max(axis=1, keepdims=True)
            E = np.exp(Z2)
            S = E.sum(axis=1, keepdims=True)
            value = -np.sum(Y * (Z2 - np.log(S))) / N
            G = (E / S - Y) / N
            D = (G @ W2.T) * A1 * (1 - A1)
            return value, X.T @ D, D.sum(axis=0, keepdims=True), A1.T @ G, G.sum(axis=0, keepdims=True)
        return f

    def jax_loss(np_):
        def f(W1_, b1_, W2_, b2_, X_, Y_):
            A1 = 1 / (1 + np_.exp(-(X_ @ W1_ + b1_)))
            Z2 = A1 @ W2_ + b2_
            logp = Z2 - jax.scipy.special.logsumexp(Z2, axis=1, keepdims=True)
            return -np_.sum(Y_ * logp) / N
        return f

    def jax_setup():
        args = [jax.device_put(a) for a in (W1, b1, W2, b2, X, Y)]
        f = jax.jit(jax.value_and_grad(jax_loss(jnp), argnums=(0, 1, 2, 3)))

        def call():
            value, grads = jax.block_until_ready(f(*args))
            return (value, *grads)
        return call

    def torch_setup():
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        ps = [torch.from_numpy(p.copy()).requires_grad_() for p in (W1, b1, W2, b2)]

        def call():
            for p in ps:
                p.grad = None
            A1 = torch.sigmoid(Xt @ ps[0] + ps[1])
            value = -(Yt * torch.log_softmax(A1 @ ps[2] + ps[3], dim=1)).sum() / N
            value.backward()
            return (value.item(), *(p.grad for p in ps))
        return call

    def autograd_setup():
        def f(params_):
            W1_, b1_, W2_, b2_ = params_
            A1 = 1 / (1 + anp.exp(-(anp.dot(X, W1_) + b1_)))
            Z2 = anp.dot(A1, W2_) + b2_
            m = anp.max(Z2, axis=1, keepdims=True)
            logp = Z2 - m - anp.log(anp.sum(anp.exp(Z2 - m), axis=1, keepdims=True))
            return -anp.sum(Y * logp) / N
        g = autograd.value_and_grad(f)

        def call():
            value, grads = g([W1, b1, W2, b2])
            return (value, *grads)
        return call

    exprs = [loss, *mc.derive(loss, wrt=params).result]
    arrays = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return table.workload(f"two-layer MLP loss+4 gradients, N={N}, d={d}, h={h}, K={K}, {name}",
                          f"MLP {N}/{d}/{h}/{K}, {_short(name)}", {
                              HAND: numpy_setup, **matcalc_setups(exprs, arrays, name),
                              JAX_AD: jax_setup if jax else None,
                              TORCH_AD: torch_setup if torch else None,
                              HIPS: autograd_setup if autograd else None,
                          }, rtol=1e-6 if dtype == np.float64 else 1e-2)


# ---------------------------------------------------------------- logistic Hessian

def logistic_hessian(table, n, d):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = (rng.random((n, 1)) < 0.5).astype(float)
    w = rng.standard_normal((d, 1))
    Xs, ys, ws = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    one = mc.ones("n", 1)
    p = mc.sigmoid(Xs * ws)
    loss = -mc.sum(mc.hadamard(ys, mc.log(p)) + mc.hadamard(one - ys, mc.log(one - p)))

    def numpy_setup():
        def f():
            q = 1.0 / (1.0 + np.exp(-(X @ w)))
            return (X.T @ (X * (q * (1 - q))),)
        return f

    def jax_setup():
        Xj, yj, wj = (jax.device_put(a) for a in (X, y.ravel(), w.ravel()))

        def f(w_, X_, y_):
            z = X_ @ w_
            return jnp.sum(jnp.logaddexp(0.0, z) - y_ * z)
        h = jax.jit(jax.hessian(f))
        return lambda: (jax.block_until_ready(h(wj, Xj, yj)),)

    def torch_setup():
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y.ravel())
        wt = torch.from_numpy(w.ravel().copy())

        def f(w_):
            z = Xt @ w_
            return torch.sum(torch.nn.functional.softplus(z) - yt * z)
        return lambda: (torch.func.hessian(f)(wt),)

    # Xᵀ diag(p ⊙ (1 − p)) X: y drops out
    return table.workload(f"logistic-regression Hessian, n={n}, d={d}, float64", f"logistic Hessian {n}×{d}, f64", {
        HAND: numpy_setup, **matcalc_setups(mc.hessian(loss, ws), {"X": X, "y": y, "w": w}, "float64", single=True),
        JAX_AD: jax_setup if jax else None,
        TORCH_AD: torch_setup if torch else None,
    }, rtol=1e-6)


# ---------------------------------------------------------------- derivation time

def derivation_time(depths, width=32):
    print("\nderivation + compile time of an L-layer MLP (σ hidden layers, softmax cross-entropy)")
    rows = []
    for L in depths:
        X, Y = mc.matrix("X", "N", "d"), mc.matrix("Y", "N", "K", onehot=True)
        sizes = ["d"] + [f"h{i}" for i in range(1, L)] + ["K"]
        params = []
        A = X
        for i in range(L):
            W, b = mc.matrix(f"W{i + 1}", sizes[i], sizes[i + 1]), mc.rowvec(f"b{i + 1}", sizes[i + 1])
            params += [W, b]
            Z = A * W + mc.ones("N", 1) * b
            A = mc.sigmoid(Z) if i < L - 1 else Z
        loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(A)))) / mc.dim("N")
        t0 = time.perf_counter()
        gradients = mc.derive(loss, wrt=params).result
        t1 = time.perf_counter()
        fn = mc.compile([loss, *gradients])
        t2 = time.perf_counter()
        matmuls = fn.source.split('"""')[-1].count(" @ ")
        print(f"  L={L:2d}: derive {t1 - t0:7.3f} s, compile {t2 - t1:6.3f} s, total {t2 - t0:7.3f} s "
              f"({len(params)} gradients, {matmuls} matrix products in the generated code)")
        rows.append({"layers": L, "derive_s": t1 - t0, "compile_s": t2 - t1, "matmuls": matmuls})
        # the generated code must be right: a numeric spot check against finite differences
        rng = np.random.default_rng(L)
        dims = {"N": 6, "d": 4, "K": 3, **{f"h{i}": 5 for i in range(1, L)}}
        arrays = {"X": rng.standard_normal((6, 4)), "Y": np.eye(3)[rng.integers(0, 3, 6)]}
        for i in range(L):
            rows_, cols_ = dims[sizes[i]], dims[sizes[i + 1]]
            arrays[f"W{i + 1}"] = rng.standard_normal((rows_, cols_)) / np.sqrt(rows_)
            arrays[f"b{i + 1}"] = rng.standard_normal((1, cols_))
        value, *grads = fn(**arrays)
        direction = rng.standard_normal(arrays["W1"].shape)
        f = mc.compile(loss)
        numeric = (f(**{**arrays, "W1": arrays["W1"] + 1e-6 * direction})
                   - f(**{**arrays, "W1": arrays["W1"] - 1e-6 * direction})) / 2e-6
        assert abs(numeric - np.sum(grads[0] * direction)) < 1e-6 * (1 + abs(numeric)), "wrong gradient"
    return rows


# ---------------------------------------------------------------- main

def pin(cpu):
    """Run this process (every thread it starts) on the one core ``cpu`` (the last by default)."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1] if cpu is None else cpu})
        return sorted(os.sched_getaffinity(0))
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and short timings")
    parser.add_argument("--float32", action="store_true", help="also run the gradient workloads in float32")
    parser.add_argument("--seconds", type=float, default=None, help="minimum timing per implementation")
    parser.add_argument("--min-rounds", type=int, default=5, help="rounds of calls at least (default 5)")
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last one)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the workloads this many times, each in a process of its own, and report "
                             "the medians over the runs (default 1)")
    parser.add_argument("--markdown", action="store_true", help="also print the README's table")
    parser.add_argument("--no-derivation", action="store_true", help="skip the derivation-time table")
    parser.add_argument("--json", help="write the measurements to this file")
    options = parser.parse_args(argv)
    if options.seconds is None:
        options.seconds = 0.2 if options.quick else 2.0
    cores = pin(options.cpu)
    versions = {"python": sys.version.split()[0], "numpy": np.__version__,
                "jax": getattr(jax, "__version__", None), "torch": getattr(torch, "__version__", None),
                "autograd": "installed" if autograd else None}
    print(f"one thread pinned to core {cores} of {os.cpu_count()}; versions:",
          ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    table = Table(options)
    if options.repeat > 1:
        table.rows = combined([_run_alone(argv, options, i) for i in range(options.repeat)])
        print(f"\nthe medians over {options.repeat} runs:")
        for row in table.rows:
            report(row)
    else:
        run_workloads(table, options)
    depth_rows = [] if options.no_derivation else derivation_time([2, 4] if options.quick else [2, 4, 8, 16])
    if options.markdown:
        print("\n" + table.markdown())
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"versions": versions, "cores": cores, "repeat": options.repeat, "timings": table.rows,
                       "derivation": depth_rows}, handle, indent=1, ensure_ascii=False)


def run_workloads(table, options):
    dtypes = [np.float64] + ([np.float32] if options.float32 else [])
    if options.quick:
        for dt in dtypes:
            ols(table, 2000, 50, dt)
            mlp(table, 256, 64, 128, 10, dt)
        logistic_hessian(table, 1000, 200)
        return
    for dt in dtypes:
        ols(table, 10_000, 100, dt)
        ols(table, 100_000, 500, dt)
        mlp(table, 256, 64, 128, 10, dt)
        mlp(table, 4096, 784, 256, 10, dt)
    logistic_hessian(table, 5000, 1000)


def _run_alone(argv, options, i):
    """One run of the workloads in a process of its own (its rows, read back from JSON)."""
    import subprocess
    import tempfile
    argv = list(sys.argv[1:] if argv is None else argv)
    keep = [a for j, a in enumerate(argv) if a not in ("--markdown",) and not a.startswith("--repeat")
            and not a.startswith("--json") and not (j and argv[j - 1] in ("--repeat", "--json"))]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.json")
        print(f"\n---- run {i + 1} of {options.repeat}", flush=True)
        subprocess.run([sys.executable, __file__, *keep, "--no-derivation", "--json", path], check=True)
        with open(path) as handle:
            return json.load(handle)["timings"]


if __name__ == "__main__":
    main()
