"""Scalars and matrices mixing in SymPy's operators (matcalc.core.mixing).

A scalar meeting a matrix in + or − is broadcast as s 𝟏, as the text syntax does, so the
Python API builds what ``mc.parse`` builds; a scalar with a 1×1 matrix is a 1×1 matrix
expression that ``mc.gradient`` takes.  Matrix with matrix stays SymPy's (with matcalc's
strict shape checks), and where a mix makes no sense the error is matcalc's own.  The
Gaussian negative log-likelihood built this way is differentiated and checked against
central finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy.matrices.expressions import MatAdd, MatrixExpr, OneMatrix, ZeroMatrix

import matcalc as mc
from matcalc.core.algebra import is_zero
from matcalc.output.text import to_text
from numeric import check_gradient, evaluate, random_values

n = "n"
x, y, mu = mc.colvec("x", n), mc.colvec("y", n), mc.colvec("mu", n)
A, B = mc.matrix("A", n, n), mc.matrix("B", n, n)
S = mc.matrix("S", n, n)
b = mc.scalar("b")
SHAPES = {"x": (n, 1), "y": (n, 1), "mu": (n, 1), "A": (n, n), "S": (n, n), "b": ()}


def parsed(text):
    return mc.parse(text, SHAPES)


@pytest.mark.parametrize("build, text", [
    (lambda: 1 - y, "1 - y"),
    (lambda: y - 1, "y - 1"),
    (lambda: y + 2, "y + 2"),
    (lambda: b + A, "b + A"),
    (lambda: A - b, "A - b"),
    (lambda: b - A, "b - A"),
    (lambda: mc.logdet(S) + (x - mu).T * mc.inv(S) * (x - mu),
     "logdet(S) + (x - mu).T @ inv(S) @ (x - mu)"),
    (lambda: sympy.Rational(1, 2) - mc.sigmoid(x), "1/2 - sigmoid(x)"),
])
def test_the_python_api_builds_what_the_text_syntax_builds(build, text):
    built, expected = build(), parsed(text)
    assert to_text(built) == to_text(expected)
    assert is_zero(mc.simplify(built - expected))


def test_a_scalar_and_a_one_by_one_matrix_make_a_one_by_one_matrix():
    f = b + x.T * y
    assert isinstance(f, MatrixExpr) and f.shape == (1, 1)
    assert (x.T * y - mc.sum(x)).shape == (1, 1)


def test_zero_leaves_a_matrix_alone_and_sums_of_matrices_work():
    assert 0 + A is A and A + 0 is A and A - 0 is A
    assert sum([A, B]) == A + B
    assert 0 - A == -A


def test_everything_cancels_to_a_zero_matrix():
    assert (b * OneMatrix(mc.dim(n), 1) - b) == ZeroMatrix(mc.dim(n), 1)


def test_matrix_with_matrix_is_sympys_own():
    assert A + B == MatAdd(A, B).doit()
    assert A - B == MatAdd(A, -B).doit()
    with pytest.raises(mc.ShapeError):
        A + x
    with pytest.raises(mc.ShapeError):
        x.T * y + x   # a 1×1 matrix and a column do not add


def test_a_scalar_divided_by_a_one_by_one_matrix():
    q = x.T * y
    assert (1 / q).shape == (1, 1)
    assert (b / q) == mc.core.algebra.mul(b, mc.core.algebra.inverse(q))
    values = random_values(b / q, {"n": 3})
    values["b"] = np.float64(1.5)
    assert np.isclose(evaluate(b / q, values), 1.5 / (values["x"].T @ values["y"]).item())
    G = mc.gradient(b / q, x)
    assert check_gradient(b / q, x, G, values) < 1e-6


def test_a_scalar_to_the_power_of_a_one_by_one_matrix():
    f = 2 ** (x.T * y)
    assert not isinstance(f, MatrixExpr)
    values = random_values(x.T * y, {"n": 3})
    assert np.isclose(evaluate(f, values), 2 ** (values["x"].T @ values["y"]).item())
    assert check_gradient(f, y, mc.gradient(f, y), values) < 1e-6


@pytest.mark.parametrize("build, fragment", [
    (lambda: 1 / y, "mc.power(y, -1)"),
    (lambda: b / A, "b * mc.inv(A)"),
    (lambda: 2 ** A, "mc.exp(log(2) * A)"),
])
def test_a_mix_that_makes_no_sense_is_a_matcalc_error(build, fragment):
    with pytest.raises(mc.ShapeError, match="cannot") as info:
        build()
    assert fragment in str(info.value)


def test_a_scalar_factor_of_a_hadamard_product_scales_it():
    assert mc.hadamard(b, A) == b * A
    assert mc.hadamard(A, 2, B) == 2 * mc.hadamard(A, B)
    with pytest.raises(TypeError, match="at least one matrix"):
        mc.hadamard(b, 2)


def test_no_sympy_type_error_reaches_the_user():
    for operation in (lambda: 1 - A, lambda: A + b, lambda: mc.trace(A) - x.T * A * x, lambda: 3 + x.T * x,
                      lambda: x.T * A * x - mc.logdet(A)):
        operation()   # none raises


# ------------------------------------------------------------------ differentiating what mixes

def gaussian_negative_log_likelihood():
    return mc.logdet(S) + (x - mu).T * mc.inv(S) * (x - mu)


def gaussian_values(seed):
    values = random_values(gaussian_negative_log_likelihood(), {"n": 4}, seed)
    rng = np.random.default_rng(100 + seed)
    M = rng.standard_normal((4, 4))
    values["S"] = M @ M.T + 4 * np.eye(4) + 0.3 * rng.standard_normal((4, 4))   # not symmetric
    return values


@pytest.mark.parametrize("variable", [S, mu, x], ids=["S", "mu", "x"])
def test_gradient_of_the_gaussian_negative_log_likelihood(variable):
    f = gaussian_negative_log_likelihood()
    G = mc.gradient(f, variable)
    assert G.shape == variable.shape
    for seed in (0, 1):
        assert check_gradient(f, variable, G, gaussian_values(seed), seed=seed) < 1e-6


def test_the_gaussian_gradients_are_the_textbook_ones():
    f = gaussian_negative_log_likelihood()
    values = gaussian_values(0)
    S_inv = np.linalg.inv(values["S"])
    r = values["x"] - values["mu"]
    # ∂/∂S = S⁻ᵀ − S⁻ᵀ r rᵀ S⁻ᵀ (Cookbook eqs. (57) and (61)); ∂/∂μ = −(S⁻¹ + S⁻ᵀ) r
    np.testing.assert_allclose(evaluate(mc.gradient(f, S), values), S_inv.T - S_inv.T @ r @ r.T @ S_inv.T,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(evaluate(mc.gradient(f, mu), values), -(S_inv + S_inv.T) @ r,
                               rtol=1e-10, atol=1e-12)


def test_gradient_of_a_scalar_plus_one_by_one_with_respect_to_a_scalar():
    f = b ** 2 + b * (x.T * y) - mc.sum(x)
    G = mc.gradient(f, b)
    values = random_values(f, {"n": 3})
    assert check_gradient(f, b, G, values) < 1e-6
    assert np.isclose(evaluate(G, values), 2 * values["b"] + (values["x"].T @ values["y"]).item())


def test_one_minus_a_vector_in_a_cross_entropy():
    X, w, t = mc.matrix("X", "N", "d"), mc.colvec("w", "d"), mc.colvec("t", "N")
    p = mc.sigmoid(X * w)
    f = -(t.T * mc.log(p) + (1 - t).T * mc.log(1 - p))
    G = mc.gradient(f, w)
    assert to_text(G) == "Xᵀ (σ(X w) − t)"
