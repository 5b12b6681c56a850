"""Translations of nodes to NumPy: products whose parts have no expression of their own,
the diagonal of a matrix, scalar functions of scalars and numeric constants.  Each value is
checked against an independent NumPy computation."""
import math

import numpy as np
import pytest
import sympy
from sympy.matrices.expressions import HadamardProduct, Identity, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

import matcalc as mc
from matcalc.errors import CompileError
from numeric import check_compiled

n = mc.dim("n")


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


_check = check_compiled


# ---------------------------------------------------------------- products without an expression

def test_inverse_times_diagonal_has_no_expression_to_describe(rng):
    Z, u = mc.matrix("Z", "n", "n"), mc.rowvec("u", "n")
    z, uv = rng.normal(size=(4, 4)) + 4 * np.eye(4), rng.normal(size=(1, 4))
    expr = mc.parse("sum(inv(Z) @ diag(u))", {"Z": ("n", "n"), "u": (1, "n")})
    assert mc.compile(expr)(Z=z, u=uv) == pytest.approx(np.sum(np.linalg.inv(z) @ np.diag(uv.ravel())))
    J = mc.jacobian(mc.exp(u) * mc.inv(Z), u)
    got = mc.compile(J)(Z=z, u=uv)
    y = lambda uu: (np.exp(uu) @ np.linalg.inv(z)).ravel()   # noqa: E731
    eps, numeric = 1e-6, np.empty((4, 4))
    for j in range(4):
        step = np.zeros((1, 4))
        step[0, j] = eps
        numeric[:, j] = (y(uv + step) - y(uv - step)) / (2 * eps)
    np.testing.assert_allclose(got, numeric, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- the diagonal of a matrix

def test_gradients_through_diag_compile(rng):
    x, A, W = mc.colvec("x", "n"), mc.matrix("A", "n", "n"), mc.matrix("W", "m", "n")
    a, w, xv = rng.normal(size=(4, 4)), rng.normal(size=(6, 4)), rng.uniform(0.5, 1.5, size=(4, 1))
    g = mc.compile(mc.gradient(mc.trace(mc.diag(x) * A), x))(A=a)   # diag(A): no x in it
    np.testing.assert_allclose(g, np.diag(a)[:, None], rtol=1e-14)
    g = mc.compile(mc.gradient(mc.logdet(W.T * W + mc.diag(x)), x))(W=w, x=xv)
    np.testing.assert_allclose(g, np.diag(np.linalg.inv(w.T @ w + np.diag(xv.ravel())))[:, None], rtol=1e-10)


def test_diagonal_of_every_form(rng):
    A, B, C = (mc.matrix(s, "n", "n") for s in "ABC")
    P, Q = mc.matrix("P", "n", "k"), mc.matrix("Q", "k", "n")
    v, r = mc.colvec("v", "n"), mc.rowvec("r", "n")
    values = {"A": rng.normal(size=(4, 4)) + 4 * np.eye(4), "B": rng.normal(size=(4, 4)),
              "C": rng.normal(size=(4, 4)), "P": rng.normal(size=(4, 2)), "Q": rng.normal(size=(2, 4)),
              "v": rng.normal(size=(4, 1)), "r": rng.normal(size=(1, 4))}
    forms = [A, A.T, mc.inv(A), A + 2 * B - C.T, DiagMatrix(v), DiagMatrix(r), P * Q, 3 * A * B * C,
             DiagMatrix(r) * A * DiagMatrix(v), -P * Q * DiagMatrix(v), A * DiagMatrix(v) * B,
             OneMatrix(n, n), Identity(n), ZeroMatrix(n, n), OneMatrix(n, 1) * r, v * OneMatrix(1, n),
             A * A.T, mc.inv(A) * B, (P * Q).T, mc.exp(A), HadamardProduct(A, B)]
    for form in forms:
        got = _check(DiagonalOf(form), values, {n: 4, mc.dim("k"): 2})
        assert got.shape == (4, 1) and got.flags.writeable, form


def test_diagonal_of_a_product_never_forms_the_product():
    X, Y = mc.matrix("X", "n", "k"), mc.matrix("Y", "k", "n")
    v = mc.colvec("v", "n")
    fn = mc.compile([DiagonalOf(X * Y), DiagonalOf(DiagMatrix(v) * X * Y)])
    body = fn.source.split('"""')[-1]
    assert " @ " not in body and "np.diag(" not in body and "np.diagonal(" not in body


# ---------------------------------------------------------------- scalar functions of scalars

def test_scalar_functions_of_scalars(rng):
    A = mc.matrix("A", "n", "m")
    s = mc.sum(A)
    cases = [
        (mc.relu(s), lambda t: max(t, 0.0)), (mc.sqrt(s ** 2), abs), (mc.step(s), lambda t: float(t > 0)),
        (sympy.Heaviside(s), lambda t: 1.0 if t > 0 else 0.5 if t == 0 else 0.0),
        (sympy.Min(s, 1, -s), lambda t: min(t, 1.0, -t)), (sympy.Max(s, 2 * s, 1), lambda t: max(t, 2 * t, 1.0)),
        (sympy.sign(s), lambda t: float(np.sign(t))), (sympy.sin(s), math.sin), (sympy.cos(s), math.cos),
        (sympy.tan(s), math.tan), (sympy.atan(s), math.atan), (sympy.sinh(s), math.sinh),
        (sympy.cosh(s), math.cosh), (sympy.tanh(s), math.tanh), (sympy.exp(s), math.exp),
        (sympy.asin(s / 100), lambda t: math.asin(t / 100)), (sympy.acos(s / 100), lambda t: math.acos(t / 100)),
        (sympy.erf(s), math.erf), (sympy.log(1 + s ** 2), lambda t: math.log(1 + t * t)),
        (sympy.pi * s + sympy.E, lambda t: math.pi * t + math.e),
        (sympy.Float("0.1", 30) * s, lambda t: 0.1 * t), (sympy.Rational(2, 3) * s, lambda t: 2 * t / 3),
        (sympy.Float("1e-300") * s + sympy.Float("1.5e300"), lambda t: 1e-300 * t + 1.5e300),
    ]
    for sign in (1.0, -1.0, 0.0):
        a = sign * rng.uniform(0.5, 1.0, size=(2, 3))
        for expr, expected in cases:
            fn = mc.compile(expr)
            assert fn(A=a) == pytest.approx(expected(a.sum()), rel=1e-13, abs=1e-300), str(expr)


def test_step_keeps_its_zero_at_zero():
    A = mc.matrix("A", "n", "m")
    assert mc.compile(mc.step(mc.sum(A)))(A=np.zeros((2, 2))) == 0.0
    assert mc.compile(mc.step(A))(A=np.zeros((2, 2))).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_jax_backend_has_the_scalar_functions(rng):
    pytest.importorskip("jax")
    A = mc.matrix("A", "n", "m")
    exprs = [sympy.erf(mc.sum(A)), mc.relu(mc.sum(A)), DiagonalOf(mc.matrix("S", "n", "n")),
             sympy.Heaviside(mc.sum(A))]
    a, sv = rng.normal(size=(3, 2)), rng.normal(size=(3, 3))
    for got, expected in zip(mc.compile(exprs, backend="jax")(A=a, S=sv), mc.compile(exprs)(A=a, S=sv)):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


# ---------------------------------------------------------------- constants beyond the float range

@pytest.mark.parametrize("constant", [sympy.Float("1e400"), sympy.Integer(10) ** 400, sympy.oo, sympy.nan,
                                      sympy.Rational(1, 10 ** 400), -sympy.Float("2e308")])
def test_constants_beyond_the_float_range_are_refused_at_compile_time(constant):
    x = mc.rowvec("x", "n")
    with pytest.raises(CompileError, match="constant"):
        mc.compile(mc.sum(x) * constant + 1)
    with pytest.raises(CompileError, match="constant"):
        mc.compile(constant * x)


def test_python_float_overflow_is_refused():
    x = mc.rowvec("x", "n")
    with pytest.raises(CompileError, match="constant"):
        mc.compile(mc.sum(x) * 1e400)
