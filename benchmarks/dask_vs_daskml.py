"""matcalc's chunked trainer against dask-ml's LogisticRegression, on the same data and loss.

The data and loss of examples/dask_logistic.py: rows of standard-normal features drawn
lazily by Dask from a seed, labels from a logistic model, and the mean binary
cross-entropy with an intercept, unregularised (dask-ml: ``penalty=None``; its solvers
minimise the sum, which has the same minimiser).  Every method runs the same number of
iterations on one ``LocalCluster`` (two workers of one thread, 1 GB each) and its final
loss is computed the same way afterwards, with Dask's own array functions:

* matcalc, full-batch gradient descent: one pass over the data per epoch (map-reduce of
  the compiled per-chunk loss and gradients);
* dask-ml ``solver="lbfgs"``: SciPy's L-BFGS, one pass per loss-and-gradient evaluation
  (an iteration may evaluate more than once);
* dask-ml ``solver="gradient_descent"``: dask-glm's gradient descent with a backtracking
  line search over persisted X β.

    python benchmarks/dask_vs_daskml.py [--rows 2400000] [--iterations 5]

dask-ml is an optional reference point (``pip install dask-ml``, in the ``bench`` extra);
without it the script says so and stops.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import time
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_logistic.py"


@functools.lru_cache(maxsize=None)
def example():
    """examples/dask_logistic.py as a module (its data, loss, learning rate and memory limit)."""
    spec = importlib.util.spec_from_file_location("dask_logistic", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mean_log_loss(X, y, w, b):
    """(1/N) Σ log(1 + e^z) − y z with z = X w + b, in one pass with Dask's functions."""
    import dask.array as da
    z = X @ np.ravel(w) + float(np.ravel(b)[0])
    return float((da.logaddexp(0, z) - y * z).mean().compute())


def run_matcalc(X, y, iterations, client):
    import matcalc as mc
    loss, params = example().model()
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=example().LEARNING_RATE)
    trainer.fit({"X": X[:1000], "y": y[:1000]}, epochs=1, cluster=client, progress=False)   # workers warm
    start = time.perf_counter()
    result = trainer.fit({"X": X, "y": y}, epochs=iterations, cluster=client, progress=False)
    return time.perf_counter() - start, result.params["w"], result.params["b"]


def run_daskml(X, y, iterations, solver):
    from dask_ml.linear_model import LogisticRegression
    model = LogisticRegression(penalty=None, solver=solver, max_iter=iterations, tol=0.0, fit_intercept=True)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, model.coef_, model.intercept_


def main(rows=2_400_000, iterations=5, features=24, chunk_rows=250_000):
    try:
        import dask_ml  # noqa: F401
    except ImportError:
        print("dask-ml is not installed (pip install dask-ml, or matcalc[bench]): nothing to compare with")
        return None
    from distributed import Client, LocalCluster
    X, y = example().make_data(rows, features, chunk_rows)
    print(f"Logistic regression, {rows:,} × {features} rows ({(X.nbytes + y.nbytes) / 1e9:.2f} GB, made lazily "
          f"by Dask in chunks of {chunk_rows:,}), {iterations} iterations each, 2 workers × 1 thread, 1 GB each")
    table = []
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=example().MEMORY_LIMIT,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        runs = {"matcalc, gradient descent": lambda: run_matcalc(X, y, iterations, client),
                "dask-ml, lbfgs": lambda: run_daskml(X, y, iterations, "lbfgs"),
                "dask-ml, gradient_descent": lambda: run_daskml(X, y, iterations, "gradient_descent")}
        for name, run in runs.items():
            seconds, w, b = run()
            table.append((name, seconds / iterations, mean_log_loss(X, y, w, b)))
            print(f"  {name}: done in {seconds:.1f} s")
    print("\n| method | time per iteration | final mean log-loss |\n|---|---|---|")
    for name, per_iteration, loss in table:
        print(f"| {name} | {per_iteration:.2f} s | {loss:.6f} |")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_400_000)
    parser.add_argument("--iterations", type=int, default=5)
    arguments = parser.parse_args()
    main(rows=arguments.rows, iterations=arguments.iterations)
