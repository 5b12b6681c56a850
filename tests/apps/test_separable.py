"""Which losses split over the rows of their data (matcalc.apps.separable): a table of
losses that do (every loss of the README and the examples among them), each split checked
numerically on two row chunks by the independent interpreter, and a table of losses that
do not, each refused with the subexpression to blame."""
import numpy as np
import pytest
import sympy

import matcalc as mc
from matcalc.apps.separable import NotSeparable, kind_of, split_over_rows, total_rows
from models import example
from numeric import evaluate, random_values

N, n = mc.dim("N"), mc.dim("n")


def mlp_readme():
    """The README's (and seed 000's) two-layer MLP, as examples/mlp_digits.py builds it."""
    loss, params, _ = example("mlp_digits").model()
    return loss, params, N


def ridge_readme():
    """README: sum((X w + b − y)∘²) + λ‖w‖², a scalar intercept and a penalty (mixed)."""
    b, lam = mc.scalar("b"), mc.scalar("lam")
    X, w, y = mc.matrix("X", "N", "d"), mc.colvec("w", "d"), mc.colvec("y", "N")
    return mc.sum(mc.power(X * w + b - y, 2)) + lam * mc.norm(w) ** 2, [w], N


def softmax_regression_readme():
    """README's `matcalc train` spec: -sum(Y * log(softmax(X @ W + b))) / N."""
    shapes = {"X": ("N", "d"), "Y": ("N", "K"), "W": ("d", "K"), "b": (1, "K")}
    loss = mc.parse("-sum(Y * log(softmax(X @ W + b))) / N", shapes=shapes)
    return loss, [mc.matrix("W", "d", "K"), mc.rowvec("b", "K")], N


def softplus_readme():
    """README's derive command: sum(log(1 + exp(X @ w)))."""
    loss = mc.parse("sum(log(1 + exp(X @ w)))", shapes={"X": ("n", "d"), "w": ("d", 1)})
    return loss, [mc.colvec("w", "d")], n


def ols_export_readme():
    """README's export command: norm(X @ w - y)**2 / n (the square of a norm splits)."""
    loss = mc.parse("norm(X @ w - y)**2 / n", shapes={"X": ("n", "d"), "w": ("d", 1), "y": ("n", 1)})
    return loss, [mc.colvec("w", "d")], n


def ols_rows_as_columns():
    """examples/ols_diabetes.py and seed 000: 1/(2n) (y − wXᵀ)(y − wXᵀ)ᵀ, y a row 1×n."""
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    residual = y - w * X.T
    return residual * residual.T / (2 * n), [w], n


def seed001_batched():
    """examples/seed001_worked_example.py's error E = ½ (y − ŷ)ᵀ(y − ŷ) is one sample with
    no row dimension; over N samples as rows: ½ Σ (y − σ(σ(X W₁) W₂))²."""
    X, y = mc.matrix("X", "N", 3), mc.colvec("y", "N")
    W1, W2 = mc.matrix("W01", 3, 2), mc.matrix("W12", 2, 1)
    y_hat = mc.sigmoid(mc.sigmoid(X * W1) * W2)
    return (y - y_hat).T * (y - y_hat) / 2, [W1, W2], N


def seed002_batched_columns():
    """Seed 002's ‖ŷ − y‖² with the samples as columns: X d×N, Y o×N."""
    X, Y = mc.matrix("X", "d", "N"), mc.matrix("Y", "o", "N")
    W1, W2 = mc.matrix("W1", "h", "d"), mc.matrix("W2", "o", "h")
    return mc.norm(mc.sigmoid(W2 * mc.sigmoid(W1 * X)) - Y) ** 2, [W1, W2], N


def logistic_example():
    """examples/dask_logistic.py's mean binary cross-entropy with an intercept."""
    loss, params = example("dask_logistic").model()
    return loss, params, N


def logsumexp_cross_entropy():
    """Softmax regression through the row log-sum-exp, with a Frobenius penalty and 1/N."""
    X, Y, W = mc.matrix("X", "N", "d"), mc.matrix("Y", "N", "K"), mc.matrix("W", "d", "K")
    Z = X * W
    return (mc.sum(mc.logsumexp(Z)) - mc.sum(mc.hadamard(Y, Z))) / N + mc.trace(W.T * W), [W], N


def hinge_l1():
    """A hinge loss Σ relu(1 − y ⊙ X w), the 1-norm of a residual, a mean and a maximum."""
    X, y, w = mc.matrix("X", "N", "d"), mc.colvec("y", "N"), mc.colvec("w", "d")
    margin = mc.relu(1 - mc.hadamard(y, X * w))
    return (mc.sum(margin) + mc.norm(X * w - y, 1) + mc.mean(mc.maximum(X * w, y))
            + mc.max(w) * mc.sum(mc.exp(X * w))), [w], N


SEPARABLE = {
    "README MLP (seed 000, examples/mlp_digits.py)": (mlp_readme, "summed"),
    "README ridge with a scalar intercept": (ridge_readme, "mixed"),
    "README train spec (softmax regression)": (softmax_regression_readme, "summed"),
    "README softplus": (softplus_readme, "summed"),
    "README export: ‖Xw − y‖²/n": (ols_export_readme, "summed"),
    "examples/ols_diabetes.py (rows as columns)": (ols_rows_as_columns, "summed"),
    "examples/seed001, over N rows": (seed001_batched, "summed"),
    "seed 002, samples as columns": (seed002_batched_columns, "summed"),
    "examples/dask_logistic.py": (logistic_example, "summed"),
    "row log-sum-exp + penalty": (logsumexp_cross_entropy, "mixed"),
    "hinge, 1-norm, mean, max of a parameter": (hinge_l1, "summed"),
}


@pytest.mark.parametrize("build, kind", SEPARABLE.values(), ids=SEPARABLE.keys())
def test_separable_losses_and_their_gradients_split_exactly(build, kind):
    """L = F + Σ_chunks R(chunk), for the loss and for every gradient matcalc derives, on
    7 random rows cut into chunks of 3 and 4 (the interpreter sees N = 3 or 4 in shapes
    and the total 7 in the scalar written N_total)."""
    loss, params, rows = build()
    names = {p.name for p in params}
    assert kind_of(loss, rows, names) == kind
    exprs = [loss] + [mc.gradient(loss, p) for p in params]
    parts = split_over_rows(exprs, rows, names)
    summed, total = total_rows([p[0] for p in parts], rows, "N_total")
    free, _ = total_rows([p[1] for p in parts], rows, "N_total")
    sizes = {str(d): 3 for e in exprs for d in _dims(e)}
    sizes[str(rows)] = 7
    values = random_values(sum_of(exprs), sizes, seed=1)
    dims = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    chunks = [(0, 3), (3, 7)]
    for expr, part_summed, part_free in zip(exprs, summed, free):
        whole = evaluate(expr, values, dims)
        split = 0.0 if part_free is None else evaluate(part_free, {**values, "N_total": 7}, dims)
        for start, stop in chunks:
            if part_summed is None:
                continue
            chunk = {name: _rows(value, symbol_axis(expr, name, rows), start, stop)
                     for name, value in values.items()}
            split = split + evaluate(part_summed, {**chunk, "N_total": 7}, {**dims, rows: stop - start})
        np.testing.assert_allclose(split, whole, rtol=1e-10, atol=1e-12, err_msg=str(expr))


def _dims(expr):
    from matcalc.core.walk import dimensions
    return dimensions([expr])


def sum_of(exprs):
    """One expression holding every symbol of ``exprs`` (for random_values)."""
    return sympy.Tuple(*exprs)


def symbol_axis(expr, name, rows):
    from matcalc.core.walk import atoms
    from sympy.matrices.expressions import MatrixSymbol
    for symbol in atoms([expr], MatrixSymbol):
        if symbol.name == name:
            axes = [a for a, d in enumerate(symbol.shape) if d == rows]
            return axes[0] if axes else None
    return None


def _rows(value, axis, start, stop):
    if axis is None or np.ndim(value) < 2:
        return value
    return np.take(value, range(start, stop), axis=axis)


def non_separable():
    X, y, w = mc.matrix("X", "N", "d"), mc.colvec("y", "N"), mc.colvec("w", "d")
    Y, W = mc.matrix("Y", "N", "K"), mc.matrix("W", "d", "K")
    return {
        "‖Xw − y‖ without the square": (mc.norm(X * w - y), "‖X w − y‖", "square root of a sum"),
        "logdet(XᵀX)": (mc.logdet(X.T * X), "det(Xᵀ X)", "det of a sum over the rows"),
        "max over all rows": (mc.max(X * w - y), "max(X w − y)", "over all entries"),
        "sum(X w)²": (mc.sum(X * w) ** 2, "sum(X w)²", "power of a sum"),
        "log-sum-exp down the column": (mc.logsumexp(X * w), "logsumexp(X w)", "along N, across the rows"),
        "softmax across rows": (-mc.sum(mc.hadamard(Y, mc.log(mc.softmax(X * W, axis=0)))),
                                "softmax", "along N, across the rows"),
        "outer product over rows": (mc.sum(X * X.T), "X Xᵀ", "outer product over the rows"),
        "product of two sums": (mc.sum(X * w) * mc.sum(y), "", "two sums over the rows"),
        "√ of a sum": (mc.sqrt(mc.sum(mc.power(X * w - y, 2))), "", "power of a sum"),
        "row values times a sum": (mc.sum(mc.hadamard(X * w, X * w) * mc.sum(y)), "", "by a sum over all rows"),
    }


NON_SEPARABLE = non_separable()


@pytest.mark.parametrize("loss, blamed, reason", NON_SEPARABLE.values(), ids=NON_SEPARABLE.keys())
def test_losses_that_couple_rows_are_refused_naming_the_culprit(loss, blamed, reason):
    params = {"w", "W"}
    with pytest.raises(NotSeparable, match=reason) as info:
        split_over_rows([loss], N, params)
    if blamed:
        assert blamed in mc.to_text(info.value.node)
    # and numerically they are not sums over rows either: the split would change the value
    assert not _splits_numerically(loss, params)


def _splits_numerically(loss, params):
    """Whether L(7 rows) = L(first 3 rows) + L(last 4 rows) at fixed parameters, as it is
    for a sum over rows without a data-free part."""
    values = random_values(loss, {"N": 7, "d": 3, "K": 3}, seed=2)
    dims = {N: 7, mc.dim("d"): 3, mc.dim("K"): 3}
    with np.errstate(all="ignore"):
        whole = evaluate(loss, values, dims)
        parts = []
        for start, stop in [(0, 3), (3, 7)]:
            chunk = {k: (v[start:stop] if k not in params and np.ndim(v) == 2 and v.shape[0] == 7 else v)
                     for k, v in values.items()}
            parts.append(evaluate(loss, chunk, {**dims, N: stop - start}))
    return bool(np.isclose(whole, sum(parts), rtol=1e-9))


def test_a_parameter_with_the_row_dimension_is_refused():
    Z, X = mc.matrix("Z", "N", "k"), mc.matrix("X", "N", "k")
    with pytest.raises(NotSeparable, match="parameter Z has the row dimension N"):
        split_over_rows([mc.sum(mc.hadamard(Z - X, Z - X))], N, {"Z"})


def test_a_value_that_keeps_the_row_dimension_is_not_a_loss():
    X, w = mc.matrix("X", "N", "d"), mc.colvec("w", "d")
    with pytest.raises(NotSeparable, match="keeps the row dimension N"):
        split_over_rows([X * w], N, {"w"})


def test_mixed_parts_come_out_separately():
    """Σ (Xw + b − y)² + λ‖w‖²: the data-free penalty is its own part (counted once, not
    once per chunk), and so is 2·N·b in 2·sum(Xw − y) + 2·N·b (a form of ∂/∂b), where N
    is the total row count."""
    loss, (w,), _ = ridge_readme()
    b = mc.scalar("b")
    (summed, free), = split_over_rows([loss], N, {"w"})
    assert mc.to_text(free) == "λ·‖w‖²"
    assert kind_of(summed, N, {"w"}) == "summed"
    X, y = mc.matrix("X", "N", "d"), mc.colvec("y", "N")
    gradient_b = 2 * mc.sum(X * w - y) + 2 * N * b
    (summed_b, free_b), = split_over_rows([gradient_b], N, {"w"})
    assert kind_of(summed_b, N, {"w"}) == "summed"
    (free_b,), total = total_rows([free_b], N, "N_total")
    assert free_b == 2 * total * b


def test_total_rows_rewrites_scalars_only():
    """1/N becomes 1/N_total; the shapes of X and 𝟏 keep N (a chunk reads its own)."""
    X, w = mc.matrix("X", "N", "d"), mc.colvec("w", "d")
    loss = mc.sum(X * w + mc.ones("N", 1) * mc.sum(w)) / N
    (rewritten,), total = total_rows([loss], N, "N_total")
    assert total in rewritten.free_symbols
    values = {"X": np.arange(6.0).reshape(3, 2), "w": np.array([[1.0], [2.0]]), "N_total": 10.0}
    got = evaluate(rewritten, values, {N: 3, mc.dim("d"): 2})
    assert got == pytest.approx((np.sum(values["X"] @ values["w"]) + 3 * 3.0) / 10)   # 𝟏 has 3 rows
