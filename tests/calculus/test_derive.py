"""The acceptance cases of the differentiator: every closed form the seeds and the issue name.

Each case is checked three ways: the result equals the textbook formula after both are put
in canonical form, it is no longer than that formula, and it agrees with finite differences.
"""
import numpy as np
import pytest
import sympy
from sympy.matrices.expressions import Identity, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix

import matcalc as mc
from matcalc.calculus.simplify import size

from numeric import check_gradient, check_hessian, check_jacobian, random_values

SIZES = [dict(n=3, m=4, d=5, N=6, K=3, h=4, o=2, h1=3, h2=4),
         dict(n=4, m=2, d=3, N=5, K=4, h=2, o=3, h1=2, h2=3)]


def same(result, expected):
    """Equal in canonical form, and no longer than the textbook formula."""
    canonical = mc.simplify(expected)
    assert result == canonical, f"\n got      {result}\n expected {canonical}"
    assert size(result) <= size(canonical)


def numerically_gradient(f, X, G, **flags):
    for seed, sizes in enumerate(SIZES):
        values = random_values(f, sizes, seed=seed, **flags)
        assert check_gradient(f, X, G, values, seed=seed) < 1e-6


# ---------------------------------------------------------------- seed 000: row vectors

def test_affine_row_jacobians():
    """Seed 000: y = xA + b  ⇒  ∂y/∂x = Aᵀ, ∂y/∂b = I_m (numerator layout)."""
    x, A, b = mc.rowvec("x", "n"), mc.matrix("A", "n", "m"), mc.rowvec("b", "m")
    y = x * A + b
    assert mc.jacobian(y, x) == A.T
    assert mc.jacobian(y, b) == Identity(mc.dim("m"))
    assert mc.jacobian(y, x, layout="denominator") == A
    for seed, sizes in enumerate(SIZES):
        values = random_values(y, sizes, seed=seed)
        assert check_jacobian(y, x, A.T, values) < 1e-8


def test_quadratic_form_row():
    """Seed 000: y = x A xᵀ  ⇒  ∂y/∂x = x(A + Aᵀ) (a row), ∂y/∂A = xᵀx."""
    x, A = mc.rowvec("x", "n"), mc.matrix("A", "n", "n")
    y = x * A * x.T
    g = mc.gradient(y, x)
    same(g, x * (A + A.T))
    assert g.shape == x.shape
    same(mc.gradient(y, A), x.T * x)
    numerically_gradient(y, x, g)
    numerically_gradient(y, A, mc.gradient(y, A))


def test_ordinary_least_squares():
    """Seed 000: L = 1/(2n)(y − wXᵀ)(y − wXᵀ)ᵀ  ⇒  ∇L = (1/n)(wXᵀ − y)X = (1/n)(wXᵀX − yX)."""
    n = mc.dim("n")
    w, X, y = mc.rowvec("w", "d"), mc.matrix("X", "n", "d"), mc.rowvec("y", "n")
    L = (y - w * X.T) * (y - w * X.T).T / (2 * n)
    g = mc.gradient(L, w)
    assert size(g) <= size(mc.simplify((w * X.T * X - y * X) / n))
    same(g, (w * X.T - y) * X / n)
    numerically_gradient(L, w, g)


def mlp(onehot=True):
    N = mc.dim("N")
    X = mc.matrix("X", "N", "d")
    Y = mc.matrix("Y", "N", "K", onehot=onehot)
    W1, b1 = mc.matrix("W1", "d", "h"), mc.rowvec("b1", "h")
    W2, b2 = mc.matrix("W2", "h", "K"), mc.rowvec("b2", "K")
    one = mc.ones("N", 1)
    Z1 = X * W1 + one * b1
    A1 = mc.sigmoid(Z1)
    Z2 = A1 * W2 + one * b2
    Yhat = mc.softmax(Z2)
    L = -mc.sum(mc.hadamard(Y, mc.log(Yhat))) / N
    return locals()


def test_two_layer_mlp_onehot():
    """Seed 000 in batch form: with G = (Ŷ − Y)/N, ∂L/∂W2 = A1ᵀG, ∂L/∂b2 = 1ᵀG,
    ∂L/∂W1 = Xᵀ[(GW2ᵀ) ⊙ A1 ⊙ (1 − A1)], ∂L/∂b1 = 1ᵀ[(GW2ᵀ) ⊙ A1 ⊙ (1 − A1)]."""
    m = mlp()
    L, X, A1, W2, Yhat, Y, N, one = (m[k] for k in ("L", "X", "A1", "W2", "Yhat", "Y", "N", "one"))
    G = (Yhat - Y) / N
    delta1 = mc.hadamard(G * W2.T, A1, mc.ones("N", "h") - A1)
    d = mc.derive(L, [m["W1"], m["b1"], m["W2"], m["b2"]])
    same(d.results[m["W2"]], A1.T * G)
    same(d.results[m["b2"]], one.T * G)
    same(d.results[m["W1"]], X.T * delta1)
    same(d.results[m["b1"]], one.T * delta1)
    for name in ("W1", "b1", "W2", "b2"):
        numerically_gradient(L, m[name], d.results[m[name]])


def test_two_layer_mlp_general_labels():
    """Without one-hot rows the softmax cross-entropy gradient keeps the row sums of Y:
    ∂L/∂Z2 = (Ŷ ⊙ (Y1)1ᵀ − Y)/N — correct for any Y, e.g. soft labels."""
    m = mlp(onehot=False)
    L, Y, Yhat, A1, N = m["L"], m["Y"], m["Yhat"], m["A1"], m["N"]
    g = mc.gradient(L, m["W2"])
    K = mc.dim("K")
    expected = A1.T * (mc.hadamard(Yhat, Y * mc.ones(K, 1) * mc.ones(1, K)) - Y) / N
    same(g, expected)
    numerically_gradient(L, m["W2"], g)
    # soft labels: rows that do not sum to one
    values = random_values(L, SIZES[0], seed=3, positive=("Y",))
    from numeric import check_gradient as check
    assert check(L, m["W2"], g, values) < 1e-6


def test_onehot_collapses_to_yhat_minus_y():
    m = mlp()
    steps = {s.target: s for s in mc.derive(m["L"], m["W2"]).steps}
    assert steps[m["Z2"]].after == mc.simplify((m["Yhat"] - m["Y"]) / m["N"])
    assert steps[m["Z2"]].rule == "log-softmax rule"


# ---------------------------------------------------------------- seed 002: column vectors

def test_seed_002_two_layer_squared_error():
    """Seed 002: L = ‖σ(W2 σ(W1 x)) − y‖², R = ŷ − y:
    ∇W2 = (2R ⊙ ŷ ⊙ (1 − ŷ)) vᵀ, ∇W1 = [W2ᵀ(2R ⊙ ŷ ⊙ (1 − ŷ)) ⊙ v ⊙ (1 − v)] xᵀ."""
    x, y = mc.colvec("x", "d"), mc.colvec("y", "o")
    W1, W2 = mc.matrix("W1", "h", "d"), mc.matrix("W2", "o", "h")
    v = mc.sigmoid(W1 * x)
    yhat = mc.sigmoid(W2 * v)
    L = mc.norm(yhat - y) ** 2
    R = yhat - y
    delta2 = mc.hadamard(2 * R, yhat, mc.ones("o", 1) - yhat)
    same(mc.gradient(L, W2), delta2 * v.T)
    same(mc.gradient(L, W1), mc.hadamard(W2.T * delta2, v, mc.ones("h", 1) - v) * x.T)
    numerically_gradient(L, W1, mc.gradient(L, W1))
    numerically_gradient(L, W2, mc.gradient(L, W2))


def test_seed_002_three_layer_binary_cross_entropy():
    """Seed 002's 3-layer network with biases and binary cross-entropy: ∂L/∂z³ = ŷ − y, so
    ∂L/∂W³ = (ŷ − y) v²ᵀ. (The slides print (y − ŷ) v²ᵀ: the sign is wrong.)"""
    x = mc.colvec("x", "d")
    y = mc.matrix("y", 1, 1)
    W1, b1 = mc.matrix("W1", "h1", "d"), mc.colvec("b1", "h1")
    W2, b2 = mc.matrix("W2", "h2", "h1"), mc.colvec("b2", "h2")
    W3, b3 = mc.matrix("W3", 1, "h2"), mc.matrix("b3", 1, 1)
    v1 = mc.sigmoid(W1 * x + b1)
    v2 = mc.sigmoid(W2 * v1 + b2)
    yhat = mc.sigmoid(W3 * v2 + b3)
    one = mc.ones(1, 1)
    L = -mc.sum(mc.hadamard(y, mc.log(yhat)) + mc.hadamard(one - y, mc.log(one - yhat)))
    d = mc.derive(L, [W1, b1, W2, b2, W3, b3])
    same(d.results[W3], (yhat - y) * v2.T)
    same(d.results[b3], yhat - y)
    delta2 = mc.hadamard(W3.T * (yhat - y), v2, mc.ones("h2", 1) - v2)
    same(d.results[W2], delta2 * v1.T)
    same(d.results[b2], delta2)
    values = random_values(L, SIZES[0], seed=1)
    values["y"] = np.array([[1.0]])
    for X in (W1, b1, W2, b2, W3, b3):
        assert check_gradient(L, X, d.results[X], values) < 1e-6
    assert d.results[W3] != mc.simplify((y - yhat) * v2.T)


# ---------------------------------------------------------------- Hessians

def test_hessian_quadratic_form():
    """xᵀAx  ⇒  H = A + Aᵀ; for symmetric A, 2A."""
    x, A = mc.colvec("x", "n"), mc.matrix("A", "n", "n")
    f = x.T * A * x
    H = mc.hessian(f, x)
    same(H, A + A.T)
    values = random_values(f, SIZES[0])
    assert check_hessian(f, x, H, values) < 1e-5
    S = mc.matrix("S", "n", "n", symmetric=True)
    assert mc.hessian(x.T * S * x, x) == mc.simplify(2 * S)


def test_hessian_least_squares():
    """‖Ax − b‖²  ⇒  H = 2AᵀA."""
    x, A, b = mc.colvec("x", "n"), mc.matrix("A", "m", "n"), mc.colvec("b", "m")
    f = mc.norm(A * x - b) ** 2
    H = mc.hessian(f, x)
    same(H, 2 * A.T * A)
    assert check_hessian(f, x, H, random_values(f, SIZES[1])) < 1e-5


def logistic():
    X, w, t = mc.matrix("X", "N", "n"), mc.colvec("w", "n"), mc.colvec("t", "N")
    p = mc.sigmoid(X * w)
    one = mc.ones("N", 1)
    L = -mc.sum(mc.hadamard(t, mc.log(p)) + mc.hadamard(one - t, mc.log(one - p)))
    return L, X, w, t, p, one


def test_logistic_gradient_and_hessian():
    """Logistic loss: ∇ = Xᵀ(p − t), H = Xᵀ diag(p ⊙ (1 − p)) X."""
    L, X, w, t, p, one = logistic()
    g = mc.gradient(L, w)
    same(g, X.T * (p - t))
    H = mc.hessian(L, w)
    same(H, X.T * DiagMatrix(mc.hadamard(p, one - p)) * X)
    values = random_values(L, SIZES[0])
    values["t"] = (values["t"] > 0).astype(float)
    assert check_gradient(L, w, g, values) < 1e-6
    assert check_hessian(L, w, H, values) < 1e-5


def test_hessian_of_row_vector_function():
    x, A = mc.rowvec("x", "n"), mc.matrix("A", "n", "n")
    H = mc.hessian(x * A * x.T, x)
    same(H, A + A.T)


# ---------------------------------------------------------------- matrix functions

@pytest.mark.parametrize("case", ["trace", "det", "logdet", "inverse", "exp", "logsumexp"])
def test_matrix_function_identities(case):
    n, m = "n", "m"
    if case == "trace":
        A, X = mc.matrix("A", m, n), mc.matrix("X", n, m)  # non-square X
        f, wrt, expected = mc.trace(A * X), X, A.T                    # Cookbook (100)
    elif case == "det":
        X = mc.matrix("X", n, n)
        f, wrt, expected = mc.det(X), X, mc.det(X) * mc.inv(X).T      # Cookbook (49)
    elif case == "logdet":
        X = mc.matrix("X", n, n)
        f, wrt, expected = mc.logdet(X), X, mc.inv(X).T               # Cookbook (57)
    elif case == "inverse":
        X, a, b = mc.matrix("X", n, n), mc.colvec("a", n), mc.colvec("b", n)
        f, wrt = a.T * mc.inv(X) * b, X
        expected = -mc.inv(X).T * a * b.T * mc.inv(X).T               # Cookbook (61)
    elif case == "exp":
        X, w = mc.matrix("X", "N", n), mc.colvec("w", n)
        f, wrt, expected = mc.ones(1, "N") * mc.exp(X * w), w, X.T * mc.exp(X * w)
    else:
        x = mc.colvec("x", n)
        f, wrt, expected = mc.logsumexp(x), x, mc.softmax(x)
    g = mc.gradient(f, wrt)
    same(g, expected)
    for seed, sizes in enumerate(SIZES):
        values = random_values(f, sizes, seed=seed)
        if case in ("det", "logdet", "inverse"):
            k = values["X"].shape[0]
            values["X"] = values["X"] @ values["X"].T + k * np.eye(k)
        assert check_gradient(f, wrt, g, values, seed=seed) < 1e-6


def test_norms():
    x, X = mc.colvec("x", "n"), mc.matrix("X", "n", "m")
    same(mc.gradient(mc.norm(x), x), x / mc.norm(x))
    same(mc.gradient(mc.norm(X) ** 2, X), 2 * X)
    numerically_gradient(mc.norm(X) ** 2, X, 2 * X)


def test_hadamard_and_elementwise_sum():
    """A Hadamard sum (SymPy raises) and elementwise functions of a non-square matrix."""
    X, A, B = mc.matrix("X", "n", "m"), mc.matrix("A", "n", "m"), mc.matrix("B", "n", "m")
    f = mc.sum(mc.hadamard(A, X) + mc.hadamard(B, mc.tanh(X)))
    g = mc.gradient(f, X)
    same(g, A + mc.hadamard(B, mc.ones("n", "m") - mc.hadamard(mc.tanh(X), mc.tanh(X))))
    numerically_gradient(f, X, g)


def test_softmax_jacobian():
    """Column softmax s = softmax(z): ∂s/∂z = diag(s) − s sᵀ."""
    z = mc.colvec("z", "n")
    s = mc.softmax(z)
    J = mc.jacobian(s, z)
    values = random_values(s, SIZES[0])
    assert check_jacobian(s, z, J, values) < 1e-8
    same(J, DiagMatrix(s) - s * s.T)


def test_elementwise_jacobian_denominator_layout():
    x, B = mc.colvec("x", "n"), mc.matrix("B", "m", "n")
    y = mc.sigmoid(B * x)
    J = mc.jacobian(y, x)
    same(J, DiagMatrix(mc.hadamard(y, mc.ones("m", 1) - y)) * B)
    values = random_values(y, SIZES[0])
    assert check_jacobian(y, x, J, values) < 1e-8
    Jd = mc.jacobian(y, x, layout="denominator")
    assert check_jacobian(y, x, Jd, values, layout="denominator") < 1e-8


def test_symmetric_matrix_transpose_folds():
    S = mc.matrix("S", "n", "n", symmetric=True)
    x = mc.colvec("x", "n")
    assert mc.gradient(x.T * S * x, x) == mc.simplify(2 * S * x)


def test_zero_gradient_when_independent():
    x, y = mc.colvec("x", "n"), mc.colvec("y", "n")
    assert mc.gradient(y.T * y, x) == ZeroMatrix(mc.dim("n"), 1)


# ---------------------------------------------------------------- derivations as data

def test_derivation_records_named_rules():
    m = mlp()
    d = mc.derive(m["L"], m["W1"])
    rules = [s.rule for s in d.steps]
    assert "log-softmax rule" in rules
    assert "chain rule through σ" in rules
    assert "product rule" in rules
    for step in d.steps:
        assert step.after == mc.simplify(step.before)
    assert d.kind == "gradient" and d.wrt == (m["W1"],)
    assert d.result == d.results[m["W1"]]


def test_derivation_steps_of_jacobian_and_hessian():
    x, A = mc.colvec("x", "n"), mc.matrix("A", "n", "n")
    d = mc.derive(x.T * A * x, x, kind="hessian")
    assert d.kind == "hessian"
    assert d.steps[-1].rule == "read off the Jacobian"
    assert d.result == mc.simplify(A + A.T)


def test_a_constant_factor_is_not_the_product_rule():
    w, X = mc.colvec("w", "d"), mc.matrix("X", "N", "d")
    lam = mc.scalar("lam")
    steps = mc.derive(lam * mc.norm(w) ** 2 + mc.sum(X * w) / 2, w).steps
    by_target = {mc.to_text(step.target): step for step in steps}
    assert by_target["‖w‖²"].rule == "constant factor" and by_target["‖w‖²"].bookkeeping
    assert by_target["sum(X w)"].rule == "constant factor"
    # a product of two matrices is the product rule, even when one is constant
    assert "product rule" in by_target["w"].rule.split(" and ") and not by_target["w"].bookkeeping
