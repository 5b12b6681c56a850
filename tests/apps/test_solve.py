"""mc.solve_stationary: closed-form minimisers of quadratic losses, checked against NumPy's
least-squares solvers on random data (evaluated with the independent interpreter)."""
import numpy as np
import pytest
import sympy
from sympy import Identity

import matcalc as mc
from matcalc.errors import DifferentiationError
from matcalc.calculus.simplify import simplify

from numeric import evaluate

RNG = np.random.default_rng(20240501)


def test_ols_row_convention_gives_seed000_formula():
    """Seed 000: ∇_w (1/2n)(y − wXᵀ)(y − wXᵀ)ᵀ = 0 ⇒ ŵ = yX(XᵀX)⁻¹."""
    n = mc.dim("n")
    w, X, y = mc.rowvec("w", "d"), mc.matrix("X", "n", "d"), mc.rowvec("y", "n")
    L = (y - w * X.T) * (y - w * X.T).T / (2 * n)
    w_hat = mc.solve_stationary(L, w)
    assert w_hat.shape == w.shape
    assert w_hat == simplify(y * X * mc.inv(X.T * X))
    Xv, yv = RNG.standard_normal((7, 3)), RNG.standard_normal((1, 7))
    expected = np.linalg.lstsq(Xv, yv.ravel(), rcond=None)[0]
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv}).ravel(), expected, rtol=1e-10)


def test_ridge_column_convention():
    """ESL (3.44): argmin ‖y − Xw‖² + λ‖w‖² = (XᵀX + λI)⁻¹Xᵀy."""
    lam = mc.scalar("lambda", positive=True)
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    L = (X * w - y).T * (X * w - y) + lam * w.T * w
    w_hat = mc.solve_stationary(L, w)
    assert w_hat == simplify(mc.inv(X.T * X + lam * Identity(mc.dim("d"))) * X.T * y)
    Xv, yv = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 1))
    expected = np.linalg.solve(Xv.T @ Xv + 0.7 * np.eye(4), Xv.T @ yv)
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv, "lambda": 0.7}), expected, rtol=1e-10)


def test_sympy_symbol_as_regularisation_weight():
    lam = sympy.Symbol("lam", positive=True)
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    w_hat = mc.solve_stationary(mc.norm(X * w - y) ** 2 / 2 + lam / 2 * mc.norm(w) ** 2, w)
    Xv, yv = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 1))
    expected = np.linalg.solve(Xv.T @ Xv + 2.0 * np.eye(3), Xv.T @ yv)
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv, "lam": 2.0}), expected, rtol=1e-10)


def test_weighted_least_squares():
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    W = mc.matrix("W", "n", "n", spd=True)
    w_hat = mc.solve_stationary((y - X * w).T * W * (y - X * w), w)
    Xv, yv = RNG.standard_normal((6, 2)), RNG.standard_normal((6, 1))
    M = RNG.standard_normal((6, 6))
    Wv = M @ M.T + np.eye(6)
    expected = np.linalg.solve(Xv.T @ Wv @ Xv, Xv.T @ Wv @ yv)
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv, "W": Wv}), expected, rtol=1e-9)


def test_gaussian_mean_maximum_likelihood():
    """PRML (2.121): the ML mean of rows xₙ is their average."""
    N = mc.dim("N")
    X, mu = mc.matrix("X", "N", "d"), mc.rowvec("mu", "d")
    S = mc.matrix("S", "d", "d", spd=True)
    centred = X - mc.ones("N", 1) * mu
    mu_hat = mc.solve_stationary(-mc.trace(centred * mc.inv(S) * centred.T) / 2, mu)
    Xv = RNG.standard_normal((5, 3))
    M = RNG.standard_normal((3, 3))
    value = evaluate(mu_hat, {"X": Xv, "S": M @ M.T + np.eye(3)}, dims={N: 5, mc.dim("d"): 3})
    np.testing.assert_allclose(value.ravel(), Xv.mean(axis=0), rtol=1e-10)


def test_gradient_vanishes_at_the_solution():
    lam = mc.scalar("lambda", positive=True)
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    L = (X * w - y).T * (X * w - y) + lam * w.T * w
    g = mc.gradient(L, w)
    w_hat = mc.solve_stationary(L, w)
    Xv, yv = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 1))
    values = {"X": Xv, "y": yv, "lambda": 0.3}
    values["w"] = evaluate(w_hat, values)
    assert np.max(np.abs(evaluate(g, values))) < 1e-10


def test_nonlinear_gradient_is_refused():
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    p = mc.sigmoid(X * w)
    logistic = -mc.sum(mc.hadamard(y, mc.log(p)))
    with pytest.raises(DifferentiationError, match="not linear"):
        mc.solve_stationary(logistic, w)


def test_matrix_variable_is_refused():
    X, W, Y = mc.matrix("X", "n", "d"), mc.matrix("W", "d", "k"), mc.matrix("Y", "n", "k")
    with pytest.raises(DifferentiationError, match="matrix"):
        mc.solve_stationary(mc.norm(X * W - Y) ** 2, W)


def test_loss_without_the_variable_is_refused():
    x, w = mc.colvec("x", "n"), mc.colvec("w", "n")
    with pytest.raises(DifferentiationError):
        mc.solve_stationary(x.T * x + w.T * x, w)


@pytest.mark.parametrize("mean_factor, ridge_factor, n_lambda", [
    (1, 1, 1),                      # (1/n)‖Xw − y‖² + λ‖w‖²  ⇒ (XᵀX + nλI)⁻¹Xᵀy
    (sympy.Rational(1, 2), 1, 2),   # (1/2n)‖Xw − y‖² + λ‖w‖²  ⇒ (XᵀX + 2nλI)⁻¹Xᵀy
    (sympy.Rational(1, 2), sympy.Rational(1, 2), 1),   # (1/2n)‖·‖² + (λ/2)‖w‖²  ⇒ (XᵀX + nλI)⁻¹Xᵀy
])
def test_ridge_with_a_mean_loss_takes_n_into_the_inverse(mean_factor, ridge_factor, n_lambda):
    """∇ = (2c/n)(XᵀX w − Xᵀy) + 2c'λw = 0  ⇒  ŵ = (XᵀX + (c'/c) nλI)⁻¹Xᵀy, with no 1/n outside."""
    n, lam = mc.dim("n"), mc.scalar("lambda", positive=True)
    X, y, w = mc.matrix("X", "n", "d"), mc.colvec("y", "n"), mc.colvec("w", "d")
    L = mean_factor * mc.norm(X * w - y) ** 2 / n + ridge_factor * lam * mc.norm(w) ** 2
    w_hat = mc.solve_stationary(L, w)
    expected = mc.inv(X.T * X + n_lambda * n * lam * Identity(mc.dim("d"))) * X.T * y
    assert w_hat == simplify(expected)
    assert w_hat.as_coeff_mmul()[0] == 1
    Xv, yv = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 1))
    numeric = np.linalg.solve(Xv.T @ Xv + n_lambda * 6 * 0.3 * np.eye(3), Xv.T @ yv)
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv, "lambda": 0.3}), numeric, rtol=1e-10)


def test_ridge_with_a_mean_loss_in_rows():
    """Row w: (1/n)‖wXᵀ − y‖² + λ‖w‖²  ⇒  ŵ = yX(XᵀX + nλI)⁻¹."""
    n, lam = mc.dim("n"), mc.scalar("lambda", positive=True)
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    w_hat = mc.solve_stationary(mc.norm(w * X.T - y) ** 2 / n + lam * mc.norm(w) ** 2, w)
    assert w_hat == simplify(y * X * mc.inv(X.T * X + n * lam * Identity(mc.dim("d"))))
    Xv, yv = RNG.standard_normal((5, 2)), RNG.standard_normal((1, 5))
    numeric = np.linalg.solve(Xv.T @ Xv + 5 * 0.3 * np.eye(2), Xv.T @ yv.T).T
    np.testing.assert_allclose(evaluate(w_hat, {"X": Xv, "y": yv, "lambda": 0.3}), numeric, rtol=1e-10)
