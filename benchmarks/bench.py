"""Per-call time of matcalc's compiled loss+gradient against hand-written NumPy, JAX
(jit of value_and_grad), PyTorch autograd and HIPS autograd, side by side in one run.

    python benchmarks/bench.py              # the full set, float64, one thread
    python benchmarks/bench.py --quick      # small shapes, a few seconds
    python benchmarks/bench.py --float32    # also every gradient workload in float32
    python benchmarks/bench.py --json out.json

Every backend runs on one pinned thread (the *_NUM_THREADS variables are set before NumPy
is imported).  Each implementation's result is first checked against the hand-written
NumPy one; then the median of repeated calls is reported with its ratio to hand-written
NumPy (< 1 is faster).  Missing frameworks are skipped.  This is a benchmark, not a test.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import json  # noqa: E402
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
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = None


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

    def workload(self, title, implementations, reference="hand-written NumPy", rtol=1e-6):
        """implementations: name -> (setup() -> callable returning outputs) or None if missing.

        The calls are interleaved round by round (one call of each implementation per
        round), so a change in machine load affects every implementation alike."""
        print(f"\n{title}")
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
        start = time.perf_counter()
        budget = self.options.seconds * len(calls)
        while min((len(t) for t in times.values()), default=99) < 5 or \
                (time.perf_counter() - start < budget and min(len(t) for t in times.values()) < 200):
            for name, fn in calls.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        results = {name: statistics.median(t) for name, t in times.items()}
        base = results.get(reference)
        for name, seconds in results.items():
            ratio = f"{seconds / base:6.2f}x" if base else "   n/a"
            print(f"  {name:28s} {seconds * 1e3:10.3f} ms   {ratio}   ({len(times[name])} calls)")
            self.rows.append({"workload": title, "implementation": name, "median_ms": seconds * 1e3,
                              "ratio_to_numpy": seconds / base if base else None})
        return results


# ---------------------------------------------------------------- OLS

def ols(table, n, d, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal((1, n)).astype(dtype)
    w = rng.standard_normal((1, d)).astype(dtype)
    Xs, ys, ws = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    r = ys - ws * Xs.T
    loss = r * r.T / (2 * mc.dim("n"))

    def matcalc_setup():
        fn = mc.compile([loss, mc.gradient(loss, ws)], dtype=np.dtype(dtype).name)
        return lambda: fn(X=X, y=y, w=w)

    def numpy_setup():
        def f():
            res = y - w @ X.T
            return (res @ res.T).item() / (2 * n), -(res @ X) / n
        return f

    def jax_setup():
        Xj, yj, wj = (jax.device_put(a) for a in (X, y, w))
        f = jax.jit(jax.value_and_grad(lambda w_: jnp.sum((yj - w_ @ Xj.T) ** 2) / (2 * n)))
        return lambda: jax.block_until_ready(f(wj))

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

    name = np.dtype(dtype).name
    return table.workload(f"OLS loss+gradient, n={n}, d={d}, {name}", {
        "hand-written NumPy": numpy_setup, "matcalc compiled": matcalc_setup,
        "JAX jit(value_and_grad)": jax_setup if jax else None,
        "PyTorch autograd": torch_setup if torch else None,
        "HIPS autograd": autograd_setup if autograd else None,
    }, rtol=1e-5 if dtype == np.float64 else 1e-2)


# ---------------------------------------------------------------- MLP

def mlp_expressions():
    N, d, h, K = "N", "d", "h", "K"
    X, Y = mc.matrix("X", N, d), mc.matrix("Y", N, K, onehot=True)
    W1, b1, W2, b2 = mc.matrix("W1", d, h), mc.rowvec("b1", h), mc.matrix("W2", h, K), mc.rowvec("b2", K)
    A1 = mc.sigmoid(X * W1 + mc.ones(N, 1) * b1)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(A1 * W2 + mc.ones(N, 1) * b2)))) / mc.dim(N)
    return loss, [W1, b1, W2, b2]


def mlp(table, N, d, h, K, dtype, backend_jax=False):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, d)).astype(dtype)
    Y = np.eye(K, dtype=dtype)[rng.integers(0, K, N)]
    W1 = (rng.standard_normal((d, h)) / np.sqrt(d)).astype(dtype)
    b1 = np.zeros((1, h), dtype)
    W2 = (rng.standard_normal((h, K)) / np.sqrt(h)).astype(dtype)
    b2 = np.zeros((1, K), dtype)
    loss, params = mlp_expressions()
    name = np.dtype(dtype).name

    def matcalc_setup(backend="numpy"):
        fn = mc.compile([loss, *mc.derive(loss, wrt=params).result], dtype=name, backend=backend)
        if backend == "jax":
            return lambda: jax.block_until_ready(fn._fn(*fn.prepare(dict(X=X, Y=Y, W1=W1, b1=b1, W2=W2, b2=b2))))
        return lambda: fn(X=X, Y=Y, W1=W1, b1=b1, W2=W2, b2=b2)

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

    impls = {"hand-written NumPy": numpy_setup, "matcalc compiled": matcalc_setup}
    if backend_jax and jax:
        impls["matcalc backend='jax'"] = lambda: matcalc_setup("jax")
    impls.update({"JAX jit(value_and_grad)": jax_setup if jax else None,
                  "PyTorch autograd": torch_setup if torch else None,
                  "HIPS autograd": autograd_setup if autograd else None})
    return table.workload(f"two-layer MLP loss+4 gradients, N={N}, d={d}, h={h}, K={K}, {name}", impls,
                          rtol=1e-6 if dtype == np.float64 else 1e-2)


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

    def matcalc_setup():
        fn = mc.compile(mc.hessian(loss, ws))     # Xᵀ diag(p ⊙ (1 − p)) X: y drops out
        arrays = {k: v for k, v in {"X": X, "y": y, "w": w}.items() if k in fn.inputs}
        return lambda: (fn(**arrays),)

    def numpy_setup():
        def f():
            q = 1.0 / (1.0 + np.exp(-(X @ w)))
            return (X.T @ (X * (q * (1 - q))),)
        return f

    def jax_setup():
        Xj, yj, wj = (jax.device_put(a) for a in (X, y, w.ravel()))

        def f(w_):
            z = Xj @ w_
            return jnp.sum(jnp.logaddexp(0.0, z) - yj.ravel() * z)
        h = jax.jit(jax.hessian(f))
        return lambda: (jax.block_until_ready(h(wj)),)

    def torch_setup():
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y.ravel())
        wt = torch.from_numpy(w.ravel().copy())

        def f(w_):
            z = Xt @ w_
            return torch.sum(torch.nn.functional.softplus(z) - yt * z)
        return lambda: (torch.func.hessian(f)(wt),)

    return table.workload(f"logistic-regression Hessian, n={n}, d={d}, float64", {
        "hand-written NumPy": numpy_setup, "matcalc compiled": matcalc_setup,
        "JAX jit(hessian)": jax_setup if jax else None,
        "PyTorch torch.func.hessian": torch_setup if torch else None,
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

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and short timings")
    parser.add_argument("--float32", action="store_true", help="also run the gradient workloads in float32")
    parser.add_argument("--seconds", type=float, default=None, help="minimum timing per implementation")
    parser.add_argument("--json", help="write the measurements to this file")
    options = parser.parse_args(argv)
    if options.seconds is None:
        options.seconds = 0.2 if options.quick else 2.0
    versions = {"python": sys.version.split()[0], "numpy": np.__version__,
                "jax": getattr(jax, "__version__", None), "torch": getattr(torch, "__version__", None),
                "autograd": "installed" if autograd else None}
    print("one thread; versions:", ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    table = Table(options)
    dtypes = [np.float64] + ([np.float32] if options.float32 else [])
    if options.quick:
        for dt in dtypes:
            ols(table, 2000, 50, dt)
            mlp(table, 256, 64, 128, 10, dt, backend_jax=True)
        logistic_hessian(table, 1000, 200)
        depth_rows = derivation_time([2, 4])
    else:
        for dt in dtypes:
            ols(table, 10_000, 100, dt)
            ols(table, 100_000, 500, dt)
            mlp(table, 256, 64, 128, 10, dt, backend_jax=True)
            mlp(table, 4096, 784, 256, 10, dt, backend_jax=True)
        logistic_hessian(table, 5000, 1000)
        depth_rows = derivation_time([2, 4, 8, 16])
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"versions": versions, "timings": table.rows, "derivation": depth_rows}, handle, indent=1)


if __name__ == "__main__":
    main()
