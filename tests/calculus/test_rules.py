"""Every derivative rule of ``matcalc.rules`` checked against finite differences.

Three ways in, each compared with central differences of the function itself
(``tests/numeric.py`` evaluates expressions with NumPy, independently of matcalc):

* the rule tables alone, with no engine and no simplifier: a tiny reverse walk over
  ``rules.adjoint_rule`` gives an unsimplified gradient, a tiny forward walk over
  ``rules.differential_rule`` an unsimplified directional derivative.  These walks also
  record which rules a case exercises, so :func:`test_every_rule_has_a_numeric_case`
  fails when a rule is added without a check;
* the public API: ``mc.gradient`` (reverse rules + engine + simplifier) over symbolic
  dimensions evaluated at several shapes (non-square, one row, one column) and over
  concrete integer dimensions, ``mc.jacobian`` for vector functions of row and column
  vectors in both layouts, and ``mc.hessian``;
* closed forms: textbook identities (Matrix Cookbook, Petersen & Pedersen 2012, cited by
  section and equation number) compared symbolically *and* numerically.

What the engine cannot do yet, and bugs found here or by tests/test_property.py, are
strict xfails with minimal reproducers (sections "not yet supported" and "known bugs").

Domains: log and sqrt see positive symbols or exp(…); inverse, det and log det see
well-conditioned non-symmetric matrices (so a missing transpose cannot hide); relu sees
random normal arguments, almost surely away from its kink.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import sympy
from sympy import Rational
from sympy.matrices.expressions import Identity, MatrixExpr
from sympy.matrices.expressions.diagonal import DiagonalOf

import matcalc as mc
from matcalc.calculus import rules
from matcalc.core import algebra
from matcalc.core import functions as F
from matcalc.core.algebra import is_zero
from numeric import (
    check_gradient, check_hessian, check_jacobian, evaluate, infer_dims, random_values,
    scalar_value,
)

TOLERANCE = 1e-6            # central differences with ε = 1e-6 in float64 reach ~1e-9
HESSIAN_TOLERANCE = 1e-5    # second differences with ε = 1e-4 reach ~1e-7
SEEDS = (0, 1)
# Values of the dimension names n, m, k: non-square, one row, one column, a 1×1 corner.
SIZES = (
    {"n": 3, "m": 2, "k": 4},
    {"n": 1, "m": 3, "k": 2},
    {"n": 4, "m": 1, "k": 3},
    {"n": 2, "m": 4, "k": 1},
)
# Concrete integer dimensions (n, m, k): SymPy simplifies 1×1 and integer shapes its own way.
CONCRETE = ((3, 2, 4), (1, 3, 2), (4, 1, 1))


# ------------------------------------------------------------------ cases

@dataclass(frozen=True)
class Case:
    """A scalar function of matrix symbols, built for dimensions (n, m, k)."""
    name: str
    build: Callable          # (n, m, k) -> (f, [variables])
    invertible: tuple = ()   # names of square symbols given well-conditioned values
    positive: tuple = ()     # names of symbols given entries in [0.5, 2]
    onehot: tuple = ()       # names of symbols given one-hot rows
    spd: tuple = ()          # names of symbols given symmetric positive definite values
    xfail: str = ""          # a known bug of the differentiator (strict xfail)

    def __str__(self):
        return self.name


def M(name, rows, cols, **assumptions):
    return mc.matrix(name, rows, cols, **assumptions)


def _sum_of_entries(n, m, k):
    X, Y = M("X", n, m), M("Y", n, m)
    return mc.sum(mc.exp(X + Y)), [X, Y]


def _transpose(n, m, k):
    X, A = M("X", n, m), M("A", n, m)
    return mc.trace(X.T * A), [X, A]


def _trace_of_product(n, m, k):
    A, X, B = M("A", k, n), M("X", n, m), M("B", m, k)
    return mc.trace(A * X * B), [A, X, B]


def _scaled_product(n, m, k):
    A, X, B = M("A", k, n), M("X", n, m), M("B", m, k)
    return mc.sum(3 * A * X * B), [A, X, B]


def _scalar_coefficient(n, m, k):
    # MatMul whose coefficient depends on the variable: tr(BX) Y
    B, X, Y = M("B", n, n), M("X", n, n), M("Y", n, m)
    return mc.sum(mc.hadamard(mc.trace(B * X) * Y, mc.tanh(Y))), [X, Y]


def _diag_column(n, m, k):
    A, v, B = M("A", m, n), M("v", n, 1), M("B", n, m)
    return mc.trace(A * mc.diag(v) * B), [v, A, B]


def _diag_row(n, m, k):
    A, x = M("A", n, n), M("x", 1, n)
    return mc.sum(mc.hadamard(A, mc.diag(mc.tanh(x)))), [x, A]


def _diagonal_of(n, m, k):
    # diagonal(X B) as a column, weighted: Σᵢ cᵢ (X B)ᵢᵢ
    X, B, c = M("X", n, m), M("B", m, n), M("c", n, 1)
    return mc.sum(mc.hadamard(DiagonalOf(X * B), mc.tanh(c))), [X, B, c]


def _hadamard(n, m, k):
    X, Y = M("X", n, m), M("Y", n, m)
    return mc.sum(mc.hadamard(X, Y, mc.exp(X))), [X, Y]


def _hadamard_power(n, m, k):
    X, C = M("X", n, m), M("C", n, m)
    return mc.sum(mc.hadamard(C, mc.power(X, 3))), [X, C]


def _hadamard_negative_power(n, m, k):
    P, C = M("P", n, m), M("C", n, m)
    return mc.sum(mc.hadamard(C, mc.power(P, -1))) + mc.sum(mc.power(P, Rational(1, 2))), [P, C]


def _matrix_power(n, m, k):
    A, X, B = M("A", m, n), M("X", n, n), M("B", n, m)
    return mc.trace(A * X ** 3 * B), [X, A, B]


def _negative_matrix_power(n, m, k):
    A, X, B = M("A", m, n), M("X", n, n), M("B", n, m)
    return mc.trace(algebra.mul(A, algebra.matrix_power(X, -2), B)), [X, A, B]


def _merged_powers(n, m, k):
    # X X X⁻¹ X X is built as X³: adjacent powers of one base merge when the product is formed
    a, X, b = M("a", 1, n), M("X", n, n), M("b", n, 1)
    return algebra.mul(a, X, X, mc.inv(X), X, X, b), [X, a, b]


def _elementwise(function, positive=False):
    def build(n, m, k):
        X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
        if positive:  # a positive argument: the positive symbol P times exp(X W)
            P = M("P", n, k)
            argument = mc.hadamard(P, mc.exp(X * W))
            return mc.sum(mc.hadamard(C, function(argument))), [X, W, P]
        return mc.sum(mc.hadamard(C, function(X * W))), [X, W, C]
    return build


def _inverse(n, m, k):
    a, X, b = M("a", n, 1), M("X", n, n), M("b", n, 1)
    return a.T * X.I * b, [X, a, b]


def _inverse_in_product(n, m, k):
    A, X, B = M("A", m, n), M("X", n, n), M("B", n, m)
    return mc.trace(A * mc.inv(X) * B), [X, A, B]


def _determinant(n, m, k):
    X = M("X", n, n)
    return mc.det(X), [X]


def _determinant_of_product(n, m, k):
    A, X = M("A", n, n), M("X", n, n)
    return mc.det(A * X), [A, X]


def _logdet(n, m, k):
    X = M("X", n, n)
    return mc.logdet(X), [X]


def _logdet_gram(n, m, k):
    # log det(S + XᵀX) with a non-square X
    X, S = M("X", n, m), M("S", m, m)
    return mc.logdet(S + X.T * X), [X]


def _norm_matrix(n, m, k):
    X = M("X", n, m)
    return mc.norm(X), [X]


def _norm_residual(n, m, k):
    A, x, b = M("A", n, m), M("x", m, 1), M("b", n, 1)
    return mc.norm(A * x - b), [x, A, b]


def _softmax(n, m, k):
    X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
    return mc.sum(mc.hadamard(C, mc.softmax(X * W))), [X, W, C]


def _softmax_columns(n, m, k):
    Z, C = M("Z", n, m), M("C", n, m)
    return mc.sum(mc.hadamard(C, mc.softmax(Z, axis=0))), [Z]


def _softmax_column_vector(n, m, k):
    A, x, c = M("A", k, n), M("x", n, 1), M("c", k, 1)
    return c.T * mc.softmax(A * x), [x, A]


def _logsumexp(n, m, k):
    X, W, c = M("X", n, m), M("W", m, k), M("c", n, 1)
    return c.T * mc.logsumexp(X * W, axis=1), [X, W, c]


def _logsumexp_columns(n, m, k):
    Z, c = M("Z", n, m), M("c", 1, m)
    return mc.logsumexp(Z, axis=0) * c.T, [Z, c]


def _logsumexp_column_vector(n, m, k):
    A, x = M("A", k, n), M("x", n, 1)
    return mc.logsumexp(A * x), [x, A]


def _scalar_algebra(n, m, k):
    # Add, Mul, Pow, log and exp of scalars made from matrices
    X, A = M("X", n, n), M("A", n, n)
    t = mc.trace(A * X)
    f = 3 * t ** 2 + sympy.exp(t / 4) - sympy.log(1 + mc.norm(X) ** 2) + mc.norm(X) ** Rational(3, 2)
    return f, [X, A]


def _scalar_functions(n, m, k):
    # SymPy's scalar functions of scalars made from matrices, each through its own rule
    X, A = M("X", n, n), M("A", n, n)
    t, s = mc.trace(A * X) / 4, mc.sum(X) / 5
    f = (mc.tanh(t) + sympy.sin(s) * sympy.cos(t) + sympy.tan(s / 3) + sympy.atan(t)
         + sympy.asin(mc.tanh(s) / 2) + sympy.acos(mc.tanh(t) / 2) + sympy.atanh(mc.tanh(s) / 2)
         + sympy.sinh(t) * sympy.cosh(s) + sympy.asinh(t) + sympy.acosh(2 + s * s) + sympy.erf(s)
         + mc.relu(t - s) + sympy.Max(t, s) + sympy.Min(t, 2 * s) + sympy.Abs(t + s)
         + sympy.sign(t) * s + sympy.Heaviside(s, 0) * t)
    return f, [X, A]


def _scalar_quotient(n, m, k):
    x, A = M("x", 1, n), M("A", n, n)
    return mc.sum(mc.exp(x * A)) / (1 + mc.norm(x) ** 2) * mc.trace(A), [x, A]


def _scalar_exponent(n, m, k):
    # Pow with a variable exponent: (1 + ‖x‖²)^{sum(y)}
    x, y = M("x", 1, n), M("y", 1, m)
    return (1 + mc.norm(x) ** 2) ** (mc.sum(y) / 4), [x, y]


def _log_softmax(n, m, k):
    Z, Y = M("Z", n, m), M("Y", n, m)
    return -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))), [Z, Y]


def _log_softmax_onehot(n, m, k):
    X, W, Y = M("X", n, k), M("W", k, m), M("Y", n, m, onehot=True)
    return -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(X * W)))) / mc.dim(n), [X, W]


def _log_sigmoid(n, m, k):
    Z, Y = M("Z", n, m), M("Y", n, m)
    return mc.sum(mc.hadamard(Y, mc.log(mc.sigmoid(Z)))), [Z, Y]


def _log_one_minus_sigmoid(n, m, k):
    Z, Y = M("Z", n, m), M("Y", n, m)
    return mc.sum(mc.hadamard(Y, mc.log(mc.ones(n, m) - mc.sigmoid(Z)))), [Z, Y]


def _binary_cross_entropy(n, m, k):
    X, w, y = M("X", n, m), M("w", m, 1), M("y", n, 1)
    p = mc.sigmoid(X * w)
    loss = -(y.T * mc.log(p) + (mc.ones(1, n) - y.T) * mc.log(mc.ones(n, 1) - p)) / mc.dim(n)
    return loss, [w, X]


def _step(n, m, k):
    # step′ = 0 almost everywhere: only the Hadamard factor carries a gradient
    X, C = M("X", n, m), M("C", n, m)
    return mc.sum(mc.hadamard(C, mc.step(X), X)), [X, C]


def _trigonometric(n, m, k):
    X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
    Z = X * W
    T = mc.tanh(Z) / 2                      # entries in (−½, ½): inside every domain
    parts = [mc.sin(Z), mc.cos(Z), mc.tan(T), mc.arcsin(T), mc.arccos(T), mc.arctan(Z), mc.sinh(Z),
             mc.cosh(Z)]
    return sympy.Add(*[mc.sum(mc.hadamard(C, p)) for p in parts]), [X, W, C]


def _smooth_activations(n, m, k):
    X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
    Z = X * W
    parts = [mc.softplus(Z), mc.log1p(mc.exp(Z)), mc.expm1(Z), mc.erf(Z), mc.gelu(Z), F.NormalCdf(Z),
             mc.logsigmoid(Z), mc.square(Z), mc.reciprocal(mc.exp(Z))]
    return sympy.Add(*[mc.sum(mc.hadamard(C, p)) for p in parts]), [X, W, C]


def _kinked_functions(n, m, k):
    # |·|, sign, maximum and minimum away from their kinks (random normal arguments)
    X, W, C, B = M("X", n, m), M("W", m, k), M("C", n, k), M("B", n, k)
    Z = X * W
    parts = [mc.abs(Z), mc.hadamard(mc.sign(Z), B), mc.maximum(Z, B), mc.minimum(Z, B), mc.maximum(Z, 0)]
    return sympy.Add(*[mc.sum(mc.hadamard(C, p)) for p in parts]), [X, W, C, B]


def _extremes(n, m, k):
    # max/min of all entries and along each axis, the 1-norm, and the indicators they produce
    X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
    Z = X * W
    return (mc.max(Z) - 2 * mc.min(Z) + mc.norm(Z, 1) + mc.sum(mc.hadamard(mc.max(Z, 1), C * M("r", k, 1)))
            + mc.sum(mc.min(Z, 0) * M("c", k, 1)) + mc.sum(mc.hadamard(F.ArgMax(Z, -1), C))
            + mc.sum(mc.hadamard(F.ArgMin(Z, 1), C))), [X, W, C]


def _applied_functions(n, m, k):
    # SymPy's X.applyfunc(f) for a function matcalc has no node for, and for one it has
    X, W, C = M("X", n, m), M("W", m, k), M("C", n, k)
    d = sympy.Dummy("d")
    Z = X * W
    return (mc.sum(mc.hadamard(C, Z.applyfunc(sympy.Lambda(d, d ** 3 / 3 + sympy.sin(d) * sympy.exp(-d)))))
            + mc.sum(mc.hadamard(C, Z.applyfunc(sympy.atan)))), [X, W, C]


def _mlp(n, m, k):
    # seed 000: X N×d, Z1 = XW1 + 1b1, A1 = σ(Z1), Z2 = A1W2 + 1b2, L = −(1/N) Σ Y ⊙ log softmax(Z2)
    N, d, h, K = n, m, k, 3
    X, Y = M("X", N, d), M("Y", N, K, onehot=True)
    W1, b1, W2, b2 = M("W1", d, h), M("b1", 1, h), M("W2", h, K), M("b2", 1, K)
    A1 = mc.sigmoid(X * W1 + mc.ones(N, 1) * b1)
    Y_hat = mc.softmax(A1 * W2 + mc.ones(N, 1) * b2)
    return -mc.sum(mc.hadamard(Y, mc.log(Y_hat))) / mc.dim(N), [W1, b1, W2, b2, X]


def _seed_002(n, m, k):
    # seed 002: L = ‖σ(W2 σ(W1 x)) − y‖² with column vectors
    x, y, W1, W2 = M("x", n, 1), M("y", k, 1), M("W1", m, n), M("W2", k, m)
    return mc.norm(mc.sigmoid(W2 * mc.sigmoid(W1 * x)) - y) ** 2, [W1, W2, x]


def _ols(n, m, k):
    w, X, y = M("w", 1, m), M("X", n, m), M("y", 1, n)
    r = y - w * X.T
    return r * r.T / (2 * mc.dim(n)), [w, X, y]


def _relu_network(n, m, k):
    X, W1, W2 = M("X", n, m), M("W1", m, k), M("W2", k, 1)
    return mc.sum(mc.power(mc.relu(X * W1) * W2, 2)), [W1, W2]


def _scalar_variables(n, m, k):
    # scalar symbols as variables: a bias b broadcast over every entry, a regulariser lam,
    # a scale s inside an elementwise function
    X, W, Y = M("X", n, m), M("W", m, k), M("Y", n, k)
    b, lam, s = mc.scalar("b"), mc.scalar("lam"), mc.scalar("s")
    f = (mc.sum(mc.power(X * W + b * mc.ones(n, k) - Y, 2)) + lam * mc.norm(W) ** 2
         + mc.sum(mc.exp(s * X)) / 4)
    return f, [b, lam, s, W]


def _temperature_and_variance(n, m, k):
    # a temperature τ in logsumexp(z/τ) and the noise variance s2 of a Gaussian NLL
    z, r = M("z", n, 1), M("r", n, 1)
    tau, s2 = mc.scalar("tau", positive=True), mc.scalar("s2", positive=True)
    f = mc.logsumexp(z / tau) + mc.dim(n) / 2 * sympy.log(s2) + mc.norm(r) ** 2 / (2 * s2)
    return f, [tau, s2, z, r]


def _scalar_power(n, m, k):
    # a ** b with scalar variables, b also scaling a matrix
    a, b, X = mc.scalar("a", positive=True), mc.scalar("b"), M("X", n, m)
    return a ** b * mc.sum(mc.tanh(b * X)) + sympy.exp(a * b) / 3, [a, b, X]


def _hadamard_scalar_exponent(n, m, k):
    # P^{∘p} with a scalar variable p: p̄ = sum(C̄ ⊙ C ⊙ log P)
    P, C, p = M("P", n, m), M("C", n, m), mc.scalar("p")
    return mc.sum(mc.hadamard(C, mc.power(P, p))), [P, C, p]


def _one_by_one_powers(n, m, k):
    # 1×1 matrices to real and symbolic powers: (aᵀXb)^{1/3} and (uᵀu)^p
    a, X, b, u, p = M("a", n, 1), M("X", n, m), M("b", m, 1), M("u", k, 1), mc.scalar("p")
    return (a.T * X * b) ** Rational(1, 3) + (u.T * u) ** p, [X, a, b, u, p]


CASES = [
    Case("sum of entries", _sum_of_entries),
    Case("transpose", _transpose),
    Case("trace of a product", _trace_of_product),
    Case("scaled product", _scaled_product),
    Case("scalar coefficient", _scalar_coefficient),
    Case("diag of a column", _diag_column),
    Case("diag of a row", _diag_row),
    Case("diagonal of a product", _diagonal_of),
    Case("hadamard", _hadamard),
    Case("hadamard power", _hadamard_power),
    Case("hadamard negative power", _hadamard_negative_power, positive=("P",)),
    Case("matrix power", _matrix_power),
    Case("negative matrix power", _negative_matrix_power, invertible=("X",)),
    Case("merged powers", _merged_powers, invertible=("X",)),
    Case("exp", _elementwise(mc.exp)),
    Case("log", _elementwise(mc.log, positive=True), positive=("P",)),
    Case("tanh", _elementwise(mc.tanh)),
    Case("sigmoid", _elementwise(mc.sigmoid)),
    Case("relu", _elementwise(mc.relu)),
    Case("sqrt", _elementwise(mc.sqrt, positive=True), positive=("P",)),
    Case("step", _step),
    Case("trigonometric", _trigonometric),
    Case("smooth activations", _smooth_activations),
    Case("kinked functions", _kinked_functions),
    Case("max, min and the 1-norm", _extremes),
    Case("applied SymPy functions", _applied_functions),
    Case("scalar functions", _scalar_functions),
    Case("inverse", _inverse, invertible=("X",)),
    Case("inverse in a product", _inverse_in_product, invertible=("X",)),
    Case("det", _determinant, invertible=("X",)),
    Case("det of a product", _determinant_of_product, invertible=("A", "X")),
    Case("logdet", _logdet, invertible=("X",)),
    Case("logdet of a gram matrix", _logdet_gram, spd=("S",)),
    Case("norm of a matrix", _norm_matrix),
    Case("norm of a residual", _norm_residual),
    Case("softmax", _softmax),
    Case("softmax over columns", _softmax_columns),
    Case("softmax of a column", _softmax_column_vector),
    Case("logsumexp", _logsumexp),
    Case("logsumexp over columns", _logsumexp_columns),
    Case("logsumexp of a column", _logsumexp_column_vector),
    Case("scalar algebra", _scalar_algebra),
    Case("scalar quotient", _scalar_quotient),
    Case("scalar exponent", _scalar_exponent),
    Case("log softmax", _log_softmax),
    Case("log softmax one-hot", _log_softmax_onehot, onehot=("Y",)),
    Case("log sigmoid", _log_sigmoid),
    Case("log one minus sigmoid", _log_one_minus_sigmoid),
    Case("binary cross-entropy", _binary_cross_entropy),
    Case("mlp (seed 000)", _mlp, onehot=("Y",)),
    Case("two sigmoid layers (seed 002)", _seed_002),
    Case("ols (seed 000)", _ols),
    Case("relu network", _relu_network),
    Case("scalar variables", _scalar_variables),
    Case("temperature and variance", _temperature_and_variance),
    Case("scalar power", _scalar_power),
    Case("hadamard scalar exponent", _hadamard_scalar_exponent, positive=("P",)),
    Case("1x1 real powers", _one_by_one_powers, positive=("a", "X", "b")),
]
CASE_BY_NAME = {case.name: case for case in CASES}


def values_for(expr, case, sizes, seed):
    """Random float64 values for the symbols of ``expr`` respecting the case's domains."""
    values = random_values(expr, sizes, seed, positive=case.positive, spd=case.spd, onehot=case.onehot)
    rng = np.random.default_rng(10_000 + seed)
    for name in case.invertible:
        if name in values:
            size = values[name].shape[0]
            # eigenvalues within 0.5 of 1.5: far from singular, det > 0, and not symmetric
            values[name] = 1.5 * np.eye(size) + 0.5 * rng.standard_normal((size, size)) / np.sqrt(size)
    return values


def _mark(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case.name, marks=marks, id=case.name)


def _symbolic(case):
    return case.build("n", "m", "k")


# ------------------------------------------------------------------ rule-table drivers

def _depends(node, x):
    return isinstance(node, sympy.Basic) and node.has(x)


def reverse_from_table(f, x, used):
    """∂f/∂x from the adjoint table alone: every path from f to x, no simplification."""
    contributions = []

    def walk(node, adjoint):
        if node == x:
            contributions.append(adjoint)
            return
        if not _depends(node, x):
            return
        rule = rules.adjoint_rule(node)
        used.add(rule)
        for child, contribution in rule.function(node, adjoint):
            if contribution is not None:
                walk(child, contribution)

    walk(f, sympy.S.One)
    return contributions


def forward_from_table(f, x, dx, used):
    """The differential of f along the symbol dx from the differential table alone."""
    memo = {}

    def d(node):
        if node == x:
            return dx
        if not _depends(node, x):
            return None
        if node not in memo:
            rule = rules.differential_rule(node)
            used.add(rule)
            memo[node] = rule.function(node, d)
        return memo[node]

    return d(f)


def _total(terms, values, dims, shape):
    total = np.zeros(shape)
    for term in terms:
        total = total + np.broadcast_to(np.asarray(evaluate(term, values, dims), dtype=float), shape)
    return total


def _directional_difference(f, x, values, direction, eps=1e-6):
    dims = infer_dims(f, values)
    plus = dict(values, **{x.name: values[x.name] + eps * direction})
    minus = dict(values, **{x.name: values[x.name] - eps * direction})
    return (np.asarray(evaluate(f, plus, dims), dtype=float)
            - np.asarray(evaluate(f, minus, dims), dtype=float)) / (2 * eps)


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def differential_symbol(x):
    """dx: a matrix symbol of x's shape, or a scalar symbol for a scalar variable."""
    if isinstance(x, MatrixExpr):
        return M("d" + x.name, *x.shape)
    return sympy.Symbol("d" + x.name, real=True)


def assert_shaped_like(G, x):
    """A gradient has its variable's shape: a matrix of x's shape, or a scalar for a scalar x."""
    if isinstance(x, MatrixExpr):
        assert isinstance(G, MatrixExpr) and G.shape == x.shape, (x, G)
    else:
        assert not isinstance(G, MatrixExpr), (x, G)


@functools.lru_cache(maxsize=None)
def table_derivatives(name):
    """{variable: (reverse contributions, forward differential, dx)} and the rules used."""
    f, variables = _symbolic(CASE_BY_NAME[name])
    adjoint_rules, differential_rules = set(), set()
    out = {}
    for x in variables:
        dx = differential_symbol(x)
        out[x] = (reverse_from_table(f, x, adjoint_rules),
                  forward_from_table(f, x, dx, differential_rules), dx)
    return f, out, frozenset(adjoint_rules), frozenset(differential_rules)


@pytest.mark.parametrize("name", [_mark(c) for c in CASES])
def test_adjoint_rules_against_finite_differences(name):
    """The raw reverse-mode rules (no engine, no simplifier) give the right gradient."""
    case = CASE_BY_NAME[name]
    f, derivatives, _, _ = table_derivatives(name)
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(f, case, sizes, seed)
            dims = infer_dims(f, values)
            for x, (contributions, _, _) in derivatives.items():
                shape = values[x.name].shape
                G = _total(contributions, values, dims, shape)
                direction = np.random.default_rng(seed + 7).standard_normal(shape)
                numeric = _directional_difference(f, x, values, direction)
                error = _relative(float((G * direction).sum()), scalar_value(numeric))
                assert error < TOLERANCE, (x, sizes, seed, error)


@pytest.mark.parametrize("name", [_mark(c) for c in CASES])
def test_differential_rules_against_finite_differences(name):
    """The raw forward-mode rules give the right directional derivative."""
    case = CASE_BY_NAME[name]
    f, derivatives, _, _ = table_derivatives(name)
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(f, case, sizes, seed)
            dims = infer_dims(f, values)
            for x, (_, differential, dx) in derivatives.items():
                direction = np.random.default_rng(seed + 11).standard_normal(values[x.name].shape)
                numeric = scalar_value(_directional_difference(f, x, values, direction))
                symbolic = 0.0 if differential is None else scalar_value(
                    evaluate(differential, dict(values, **{dx.name: direction}), dims))
                error = _relative(symbolic, numeric)
                assert error < TOLERANCE, (x, sizes, seed, error)


# Matrix-valued functions for the forward rules: directional derivative of every entry.
def _matrix_valued_cases():
    def softmax_rows(n, m, k):
        X, W = M("X", n, m), M("W", m, k)
        return mc.softmax(X * W), [X, W]

    def softmax_columns(n, m, k):
        Z = M("Z", n, m)
        return mc.softmax(mc.tanh(Z), axis=0), [Z]

    def logsumexp_rows(n, m, k):
        X, W = M("X", n, m), M("W", m, k)
        return mc.logsumexp(X * W), [X, W]

    def logsumexp_columns(n, m, k):
        Z = M("Z", n, m)
        return mc.logsumexp(Z, axis=0), [Z]

    def log_softmax(n, m, k):
        Z = M("Z", n, m)
        return mc.log(mc.softmax(Z)), [Z]

    def log_sigmoid_pair(n, m, k):
        Z = M("Z", n, m)
        return mc.log(mc.sigmoid(Z)) + 2 * mc.log(mc.ones(n, m) - mc.sigmoid(Z)), [Z]

    def inverse(n, m, k):
        X, A = M("X", n, n), M("A", n, m)
        return X.I * A + mc.power(X.T, 2) * A, [X, A]

    def matrix_power(n, m, k):
        X = M("X", n, n)
        return X ** 3 + mc.diag(mc.sigmoid(X * M("u", n, 1))), [X]

    def diagonal_of(n, m, k):
        X, B = M("X", n, m), M("B", m, n)
        return DiagonalOf(X * B) * M("r", 1, m), [X, B]

    def elementwise_stack(n, m, k):
        X, C = M("X", n, m), M("C", n, m)
        inner = mc.tanh(mc.hadamard(C, X))
        return mc.sqrt(mc.exp(inner)) + mc.relu(X) + mc.log(mc.exp(mc.sigmoid(X))), [X, C]

    def scaled(n, m, k):
        X, A = M("X", n, m), M("A", n, n)
        return mc.trace(A) * mc.norm(X) * X + mc.det(A) * X - mc.logdet(A) * mc.sum(X) * X, [X, A]

    return [
        Case("softmax rows", softmax_rows), Case("softmax columns", softmax_columns),
        Case("logsumexp rows", logsumexp_rows), Case("logsumexp columns", logsumexp_columns),
        Case("log softmax", log_softmax), Case("log sigmoid pair", log_sigmoid_pair),
        Case("inverse", inverse, invertible=("X",)), Case("matrix power", matrix_power), Case("diagonal of a product", diagonal_of),
        Case("elementwise stack", elementwise_stack),
        Case("scalar-scaled", scaled, invertible=("A",)),
    ]


MATRIX_VALUED = _matrix_valued_cases()
MATRIX_VALUED_BY_NAME = {c.name: c for c in MATRIX_VALUED}


@functools.lru_cache(maxsize=None)
def matrix_valued_differentials(name):
    f, variables = _symbolic(MATRIX_VALUED_BY_NAME[name])
    used = set()
    out = {}
    for x in variables:
        dx = M("d" + x.name, *x.shape)
        out[x] = (forward_from_table(f, x, dx, used), dx)
    return f, out, frozenset(used)


@pytest.mark.parametrize("name", [c.name for c in MATRIX_VALUED])
def test_differential_rules_of_matrix_functions(name):
    case = MATRIX_VALUED_BY_NAME[name]
    f, derivatives, _ = matrix_valued_differentials(name)
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(f, case, sizes, seed)
            dims = infer_dims(f, values)
            shape = np.shape(evaluate(f, values, dims))
            for x, (differential, dx) in derivatives.items():
                direction = np.random.default_rng(seed + 13).standard_normal(values[x.name].shape)
                numeric = _directional_difference(f, x, values, direction)
                symbolic = _total([differential], dict(values, **{dx.name: direction}), dims, shape)
                assert _relative(symbolic, numeric) < TOLERANCE, (x, sizes, seed)


@pytest.mark.parametrize("name", [c.name for c in MATRIX_VALUED])
def test_jacobian_of_matrix_functions(name):
    """mc.jacobian of each matrix-valued case in the vec layout (vec(dY) = J vec(dX)),
    against central differences of every entry, in both layouts."""
    case = MATRIX_VALUED_BY_NAME[name]
    f, variables = _symbolic(case)
    for x in variables:
        for layout in ("numerator", "denominator"):
            J = mc.jacobian(f, x, layout=layout)
            for sizes in SIZES:
                values = values_for(f, case, sizes, 0)
                assert check_jacobian(f, x, J, values, layout=layout) < TOLERANCE, (x, layout, sizes)


def _patterns(patterns):
    return [rule for _, rule in patterns]


def test_every_rule_has_a_numeric_case():
    """A rule (or fused pattern) added to the tables without a numeric case fails here."""
    used_adjoint, used_differential = set(), set()
    for case in CASES:
        _, _, adjoint_rules, differential_rules = table_derivatives(case.name)
        used_adjoint |= adjoint_rules
        used_differential |= differential_rules
    for case in MATRIX_VALUED:
        used_differential |= matrix_valued_differentials(case.name)[2]
    missing = []
    for cls, rule in rules.ADJOINT.items():
        if rule not in used_adjoint:
            missing.append(f"ADJOINT[{cls.__name__}] ({rule.name})")
    for cls, rule in rules.DIFFERENTIAL.items():
        if rule not in used_differential:
            missing.append(f"DIFFERENTIAL[{cls.__name__}] ({rule.name})")
    for rule in _patterns(rules.ADJOINT_PATTERNS):
        if rule not in used_adjoint:
            missing.append(f"ADJOINT_PATTERNS {rule.function.__name__} ({rule.name})")
    for rule in _patterns(rules.DIFFERENTIAL_PATTERNS):
        if rule not in used_differential:
            missing.append(f"DIFFERENTIAL_PATTERNS {rule.function.__name__} ({rule.name})")
    assert not missing, "rules with no numeric case in tests/test_rules.py: " + ", ".join(missing)


# ------------------------------------------------------------------ mc.gradient

@functools.lru_cache(maxsize=None)
def public_gradients(name, dimensions=("n", "m", "k")):
    f, variables = CASE_BY_NAME[name].build(*dimensions)
    return f, {x: mc.gradient(f, x) for x in variables}


@pytest.mark.parametrize("name", [_mark(c) for c in CASES])
def test_gradient_against_finite_differences(name):
    """mc.gradient over symbolic dimensions, evaluated at several shapes and seeds."""
    case = CASE_BY_NAME[name]
    f, gradients = public_gradients(name)
    for x, G in gradients.items():
        assert_shaped_like(G, x)
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(f, case, sizes, seed)
            for x, G in gradients.items():
                error = check_gradient(f, x, G, values, seed=seed)
                assert error < TOLERANCE, (x, sizes, seed, error, G)


@pytest.mark.parametrize("dimensions", CONCRETE, ids=lambda d: "x".join(map(str, d)))
@pytest.mark.parametrize("name", [_mark(c) for c in CASES])
def test_gradient_with_concrete_dimensions(name, dimensions):
    case = CASE_BY_NAME[name]
    f, gradients = public_gradients(name, dimensions)
    for seed in SEEDS:
        values = values_for(f, case, {}, seed)
        for x, G in gradients.items():
            assert_shaped_like(G, x)
            error = check_gradient(f, x, G, values, seed=seed)
            assert error < TOLERANCE, (x, seed, error, G)


# ------------------------------------------------------------------ mc.jacobian

def _vector_cases():
    """Vector functions of vectors, written with row vectors (seed 000's convention)."""

    def affine(n, m, k):
        x, A, b = M("x", 1, n), M("A", n, m), M("b", 1, m)
        return x * A + b, [x, b]

    def elementwise(function, positive=False):
        def build(n, m, k):
            x, A = M("x", 1, n), M("A", n, m)
            z = x * A
            if positive:
                z = mc.hadamard(M("p", 1, m), mc.exp(z))
            return function(z), [x]
        return build

    def hadamard(n, m, k):
        x, u, B = M("x", 1, n), M("u", 1, n), M("B", n, n)
        return mc.hadamard(x, mc.tanh(x)) + mc.hadamard(u, x * B), [x, u]

    def powers(n, m, k):
        x = M("x", 1, n)
        return mc.power(x, 3) - 2 * mc.power(mc.exp(x), -1), [x]

    def transpose(n, m, k):
        x, B = M("x", 1, n), M("B", m, n)
        return (B * x.T).T + mc.tanh(x * B.T), [x]

    def matrix_power(n, m, k):
        x, B = M("x", 1, n), M("B", n, n)
        return x * B ** 3, [x]

    def softmax(n, m, k):
        x, A = M("x", 1, n), M("A", n, m)
        return mc.softmax(x * A), [x]

    def log_softmax(n, m, k):
        x, A = M("x", 1, n), M("A", n, m)
        return mc.log(mc.softmax(x * A)), [x]

    def log_sigmoids(n, m, k):
        x, A = M("x", 1, n), M("A", n, m)
        z = x * A
        return mc.log(mc.sigmoid(z)) - 3 * mc.log(mc.ones(1, m) - mc.sigmoid(z)), [x]

    def logsumexp(n, m, k):
        # a 1×1 output: the Jacobian is the gradient as a 1×n row
        x, A = M("x", 1, n), M("A", n, m)
        return mc.logsumexp(x * A), [x]

    def diag(n, m, k):
        x, u = M("x", 1, n), M("u", 1, n)
        return x * mc.diag(x) + u * mc.diag(mc.tanh(x)), [x, u]

    def two_layers(n, m, k):
        x, W1, b1, W2, b2 = M("x", 1, n), M("W1", n, k), M("b1", 1, k), M("W2", k, m), M("b2", 1, m)
        return mc.sigmoid(mc.tanh(x * W1 + b1) * W2 + b2), [x, b1, b2]

    return [
        Case("affine", affine), Case("exp", elementwise(mc.exp)), Case("tanh", elementwise(mc.tanh)),
        Case("sigmoid", elementwise(mc.sigmoid)), Case("relu", elementwise(mc.relu)),
        Case("log", elementwise(mc.log, positive=True), positive=("p",)),
        Case("sqrt", elementwise(mc.sqrt, positive=True), positive=("p",)),
        Case("hadamard", hadamard), Case("powers", powers), Case("transpose", transpose),
        Case("matrix power", matrix_power), Case("softmax", softmax), Case("log softmax", log_softmax),
        Case("log sigmoids", log_sigmoids), Case("logsumexp", logsumexp), Case("diag", diag),
        Case("two layers", two_layers),
    ]


def _column_cases():
    """Vector functions written natively with column vectors (seed 002's convention)."""

    def affine(n, m, k):
        A, x, b = M("A", m, n), M("x", n, 1), M("b", m, 1)
        return A * x + b, [x, b]

    def sigmoid_layers(n, m, k):
        W1, W2, x = M("W1", k, n), M("W2", m, k), M("x", n, 1)
        return mc.sigmoid(W2 * mc.sigmoid(W1 * x)), [x]

    def softmax(n, m, k):
        A, x = M("A", m, n), M("x", n, 1)
        return mc.softmax(A * x), [x]

    def logsumexp(n, m, k):
        A, x = M("A", m, n), M("x", n, 1)
        return x * mc.logsumexp(A * x) + mc.log(mc.softmax(A.T * (A * x))), [x]

    def softmax_of_hidden_layer(n, m, k):
        C, A, x = M("C", n, m), M("A", m, n), M("x", n, 1)
        return mc.softmax(C * mc.exp(A * x)), [x]

    def hadamard(n, m, k):
        x, u = M("x", n, 1), M("u", n, 1)
        return mc.hadamard(x, mc.exp(u)) + mc.diag(u) * mc.relu(x), [x, u]

    def normalised(n, m, k):
        x = M("x", n, 1)
        return x / mc.norm(x), [x]

    def scaled_by_scalars(n, m, k):
        # scalar factors that depend on x: ‖x‖ x + sum(exp(Ax)) b + √(1 + ‖x‖²) x
        A, x, b = M("A", m, n), M("x", n, 1), M("b", n, 1)
        return (mc.norm(x) * x + mc.sum(mc.exp(A * x)) * b
                + (1 + mc.norm(x) ** 2) ** Rational(1, 2) * mc.tanh(x)
                + sympy.exp(-mc.norm(x) ** 2 / 4) * sympy.log(1 + mc.sum(mc.exp(x))) * b), [x, b]

    def scalar_outputs(n, m, k):
        # a 1×1 "vector": the Jacobian is the gradient as a row
        A, x = M("A", m, n), M("x", n, 1)
        return mc.norm(x) ** 2 + mc.sum(mc.exp(A * x)), [x]

    return [Case("affine", affine), Case("sigmoid layers", sigmoid_layers),
            Case("softmax", softmax), Case("logsumexp and log softmax", logsumexp),
            Case("hadamard and diag", hadamard), Case("x over its norm", normalised),
            Case("scaled by scalar functions", scaled_by_scalars),
            Case("scalar outputs", scalar_outputs),
            Case("softmax of a hidden layer", softmax_of_hidden_layer)]


def as_columns(y, variables):
    """The same function with each row-vector variable x replaced by a column c (x = cᵀ),
    and the row output transposed to a column."""
    replace = {x: M(x.name, x.shape[1], 1).T for x in variables if x.shape[0] == 1}
    column = y.xreplace(replace)
    if isinstance(column, MatrixExpr) and column.shape[0] == 1:
        column = column.T
    return column, [replace[x].arg if x in replace else x for x in variables]


VECTOR_CASES = _vector_cases()
JACOBIAN_CASES = {}
for _case in VECTOR_CASES:
    JACOBIAN_CASES[("row", _case.name)] = _case
    JACOBIAN_CASES[("transposed to columns", _case.name)] = _case
for _case in _column_cases():
    JACOBIAN_CASES[("column", _case.name)] = _case


@functools.lru_cache(maxsize=None)
def public_jacobians(convention, name):
    case = JACOBIAN_CASES[(convention, name)]
    y, variables = case.build("n", "m", "k")
    if convention == "transposed to columns":
        y, variables = as_columns(y, variables)
    return y, {(x, layout): mc.jacobian(y, x, layout=layout)
               for x in variables for layout in ("numerator", "denominator")}


def _length(expr):
    rows, cols = expr.shape if isinstance(expr, MatrixExpr) else (1, 1)
    return cols if rows == 1 else rows


@pytest.mark.parametrize("convention,name", [
    pytest.param(c, n, id=f"{c}-{n}", marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [])
    for (c, n), case in JACOBIAN_CASES.items()])
def test_jacobian_against_finite_differences(convention, name):
    """mc.jacobian, both layouts: numerator J[i, j] = ∂yᵢ/∂xⱼ, denominator its transpose."""
    case = JACOBIAN_CASES[(convention, name)]
    y, jacobians = public_jacobians(convention, name)
    for (x, layout), J in jacobians.items():
        expected_shape = (_length(y), _length(x))
        assert J.shape == (expected_shape if layout == "numerator" else expected_shape[::-1]), (x, layout)
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(y, case, sizes, seed)
            for (x, layout), J in jacobians.items():
                error = check_jacobian(y, x, J, values, seed=seed, layout=layout)
                assert error < TOLERANCE, (x, layout, sizes, seed, error, J)


# Vector functions whose differentials hold scalar factors sum(x ⊙ dxᵀ), tr(…), det(…),
# or x inside an inverse or a matrix power: the Jacobian is read off through the trace
# and sum rules of the coefficient extraction.
def _scalar_factor_jacobians():
    x, B, S = M("x", 1, "n"), M("B", "n", "n"), M("S", "n", "n")
    v = M("v", "n", 1)
    return {
        "row: norm times x": (mc.norm(x) * x, x),
        "row: x over its norm": (x / mc.norm(x), x),
        "row: sum of exp (scalar output)": (mc.sum(mc.exp(x)), x),
        "row: squared norm (scalar output)": (mc.norm(x) ** 2, x),
        "column: trace times x": (mc.trace(B * v * v.T) * v, v),
        "row: trace times x": (mc.trace(B * x.T * x) * x, x),
        "column: x inside an inverse": ((S + v * v.T).I * v, v),
        "row: x inside an inverse": (x * (S + x.T * x).I, x),
        "column: x inside a matrix power": ((v * v.T) ** 2 * v, v),
        "column: det times x": (mc.det(S + v * v.T) * v, v),
    }


@pytest.mark.parametrize("name", list(_scalar_factor_jacobians()))
def test_jacobian_through_scalar_factors(name):
    y, x = _scalar_factor_jacobians()[name]
    J = mc.jacobian(y, x)
    values = values_for(y, Case(name, None, spd=("S",)), SIZES[0], 0)
    assert check_jacobian(y, x, J, values) < TOLERANCE


# ------------------------------------------------------------------ mc.hessian

def _hessian_cases():
    def quadratic_row(n, m, k):
        x, A = M("x", 1, n), M("A", n, n)
        return x * A * x.T, [x]

    def quadratic_column(n, m, k):
        v, A = M("v", n, 1), M("A", n, n)
        return v.T * A * v, [v]

    def least_squares(n, m, k):
        A, v, b = M("A", m, n), M("v", n, 1), M("b", m, 1)
        return mc.norm(A * v - b) ** 2, [v]

    def logistic(n, m, k):
        X, w, y = M("X", m, n), M("w", n, 1), M("y", m, 1)
        p = mc.sigmoid(X * w)
        return -(y.T * mc.log(p) + (mc.ones(1, m) - y.T) * mc.log(mc.ones(m, 1) - p)), [w]

    def softplus(n, m, k):
        X, w = M("X", m, n), M("w", n, 1)
        return mc.sum(mc.log(mc.ones(m, 1) + mc.exp(X * w))), [w]

    def logsumexp_column(n, m, k):
        B, v = M("B", m, n), M("v", n, 1)
        return mc.logsumexp(B * v), [v]

    def logsumexp_row(n, m, k):
        x, A = M("x", 1, n), M("A", n, m)
        return mc.logsumexp(x * A), [x]

    def softmax_cross_entropy(n, m, k):
        B, v, y = M("B", m, n), M("v", n, 1), M("y", m, 1)
        return -y.T * mc.log(mc.softmax(B * v)), [v]

    def elementwise(n, m, k):
        x, p = M("x", 1, n), M("p", 1, n)
        return (mc.sum(mc.tanh(x)) + mc.sum(mc.power(x, 3)) + mc.sum(mc.sqrt(mc.exp(x)))
                + mc.sum(mc.log(mc.hadamard(p, mc.exp(x))))), [x]

    def relu_squares(n, m, k):
        B, v = M("B", m, n), M("v", n, 1)
        return mc.sum(mc.power(mc.relu(B * v), 2)), [v]

    def inverse_quadratic(n, m, k):
        v, S = M("v", n, 1), M("S", n, n)
        return v.T * S.I * v, [v]

    def squared_norm(n, m, k):
        x, A = M("x", 1, n), M("A", n, n)
        return mc.norm(x) ** 2 + mc.sum(x * A * x.T), [x]

    def norms(n, m, k):
        v = M("v", n, 1)
        return mc.norm(v) + mc.norm(v) ** 3 / 4 + sympy.log(1 + mc.norm(v) ** 2) - sympy.exp(-mc.sum(v) / 3), [v]

    def scalar_functions(n, m, k):
        v = M("v", n, 1)
        t, s = mc.norm(v) ** 2 / 8, mc.sum(v) / 5
        # functions whose derivative does not contain them are multiplied by s, so that the
        # Hessian's forward pass meets them too
        return (mc.tanh(t) + sympy.sin(s) * sympy.cos(t) + sympy.tan(s / 3) + sympy.atan(t) * s
                + (sympy.asin(mc.tanh(s) / 2) + sympy.acos(mc.tanh(t) / 2) + sympy.atanh(mc.tanh(s) / 2)) * s
                + sympy.sinh(t) * sympy.cosh(s) + (sympy.asinh(t) + sympy.acosh(2 + s * s) + sympy.erf(s)) * s
                + mc.relu(t - s) * s + sympy.Max(t, s) * t + sympy.Min(t, 2 * s) * s
                + sympy.Abs(t - s) * t + sympy.sign(t - s) * s + sympy.Heaviside(s, 0) * t), [v]

    def elementwise_functions(n, m, k):
        v, c, r = M("v", n, 1), M("c", n, 1), M("r", 1, m)
        T, d = mc.tanh(v) / 2, sympy.Dummy("d")
        # each function times v, so that the gradient (the Hessian's forward pass) holds it
        parts = [mc.sin(v), mc.cos(v), mc.tan(T), mc.arcsin(T), mc.arccos(T), mc.arctan(v), mc.sinh(v),
                 mc.cosh(v), mc.abs(v), mc.sign(v), mc.softplus(v), mc.log1p(mc.exp(v)), mc.expm1(v),
                 mc.erf(v), mc.gelu(v), mc.maximum(v, c), mc.minimum(v, c),
                 v.applyfunc(sympy.Lambda(d, sympy.cos(d) + d ** 3 / 6))]
        return (sympy.Add(*[mc.sum(mc.hadamard(p, v)) for p in parts]) + mc.norm(v, 1) * mc.sum(v)
                + mc.max(v) * mc.sum(v) + mc.min(v) * mc.sum(v)
                + mc.sum(mc.hadamard(mc.max(v * r, 1), v)) + mc.sum(mc.min(c * v.T, 0) * v)), [v]

    return [
        Case("elementwise functions", elementwise_functions),
        Case("scalar functions", scalar_functions),
        Case("quadratic form row", quadratic_row), Case("quadratic form column", quadratic_column),
        Case("least squares", least_squares), Case("logistic loss", logistic),
        Case("softplus", softplus), Case("logsumexp column", logsumexp_column),
        Case("logsumexp row", logsumexp_row), Case("softmax cross-entropy", softmax_cross_entropy),
        Case("elementwise", elementwise, positive=("p",)), Case("relu squares", relu_squares),
        Case("inverse quadratic", inverse_quadratic, invertible=("S",)),
        Case("squared norm", squared_norm), Case("norms", norms),
    ]


HESSIAN_CASES = {c.name: c for c in _hessian_cases()}


@functools.lru_cache(maxsize=None)
def public_hessian(name):
    f, (x,) = HESSIAN_CASES[name].build("n", "m", "k")
    return f, x, mc.hessian(f, x)


@pytest.mark.parametrize("name", list(HESSIAN_CASES))
def test_hessian_against_finite_differences(name):
    """mc.hessian: n×n, uᵀHv against second differences, and symmetric."""
    case = HESSIAN_CASES[name]
    f, x, H = public_hessian(name)
    assert H.shape == (_length(x), _length(x))
    for sizes in SIZES:
        for seed in SEEDS:
            values = values_for(f, case, sizes, seed)
            error = check_hessian(f, x, H, values, seed=seed)
            assert error < HESSIAN_TOLERANCE, (sizes, seed, error, H)
            H_value = np.atleast_2d(evaluate(H, values, infer_dims(f, values)))
            assert np.allclose(H_value, H_value.T, atol=1e-9), (sizes, seed)


def _scalar_factor_hessians():
    x, v, S, A = M("x", 1, "n"), M("v", "n", 1), M("S", "n", "n"), M("A", "n", "n")
    return {
        "norm of a row": (mc.norm(x), x),
        "logdet of a rank-one update": (mc.logdet(S + v * v.T), v),
        "diag of a vector, twice": (mc.trace(A * mc.diag(v) * mc.diag(v)), v),
    }


@pytest.mark.parametrize("name", list(_scalar_factor_hessians()))
def test_hessian_through_scalar_factors(name):
    f, x = _scalar_factor_hessians()[name]
    H = mc.hessian(f, x)
    values = values_for(f, Case(name, None, spd=("S",)), SIZES[0], 0)
    assert check_hessian(f, x, H, values) < HESSIAN_TOLERANCE


# Forward rules mc.jacobian / mc.hessian cannot reach yet (none at the moment).
PUBLIC_FORWARD_GAPS = set()


def test_forward_rules_are_reached_through_the_public_api():
    """Every forward rule is also exercised through mc.jacobian or mc.hessian (as the
    differential of a vector function, or of a gradient), except the documented gaps."""
    used = set()
    for name, (y, x) in _scalar_factor_jacobians().items():
        forward_from_table(y, x, M("d" + x.name, *x.shape), used)
    for name, (f, x) in _scalar_factor_hessians().items():
        forward_from_table(mc.gradient(f, x), x, M("d" + x.name, *x.shape), used)
    for (convention, name), case in JACOBIAN_CASES.items():
        if case.xfail:
            continue
        y, jacobians = public_jacobians(convention, name)
        for x in {x for x, _ in jacobians}:
            forward_from_table(y, x, M("d" + x.name, *x.shape), used)
    for name in HESSIAN_CASES:
        f, x, _ = public_hessian(name)
        forward_from_table(mc.gradient(f, x), x, M("d" + x.name, *x.shape), used)
    missing = [cls.__name__ for cls, rule in rules.DIFFERENTIAL.items()
               if rule not in used and cls.__name__ not in PUBLIC_FORWARD_GAPS]
    missing += [rule.function.__name__ for rule in _patterns(rules.DIFFERENTIAL_PATTERNS) if rule not in used]
    assert not missing, f"forward rules with no mc.jacobian/mc.hessian case: {missing}"


# ------------------------------------------------------------------ closed forms

@dataclass(frozen=True)
class TextbookIdentity:
    """A textbook identity: ``derivative(f, x) = expected``."""
    name: str
    citation: str
    build: Callable          # () -> (f, x, expected)
    kind: str = "gradient"   # or "jacobian", "jacobian denominator", "hessian"
    invertible: tuple = ()
    positive: tuple = ()
    onehot: tuple = ()
    spd: tuple = ()
    xfail: str = ""


def _identities():
    n, m, N = "n", "m", "N"
    X_nm, A_mn = M("X", n, m), M("A", m, n)
    X, a, b = M("X", n, n), M("a", n, 1), M("b", n, 1)
    x_row, x_col = M("x", 1, n), M("x", n, 1)
    A_nn, B_nn = M("A", n, n), M("B", n, n)
    return [
        TextbookIdentity("tr(AX) = Aᵀ", "Cookbook §2.5.1 eq. (100), non-square X",
                  lambda: (mc.trace(A_mn * X_nm), X_nm, A_mn.T)),
        TextbookIdentity("tr(XᵀA) = A", "Cookbook §2.5.1 eq. (103)",
                  lambda: (mc.trace(X_nm.T * M("A", n, m)), X_nm, M("A", n, m))),
        TextbookIdentity("tr(AXB) = AᵀBᵀ", "Cookbook §2.5.1 eq. (101)",
                  lambda: (mc.trace(M("A", "k", n) * X_nm * M("B", m, "k")), X_nm,
                           M("A", "k", n).T * M("B", m, "k").T)),
        TextbookIdentity("tr(XᵀX) = 2X", "Cookbook §2.5.2",
                  lambda: (mc.trace(X_nm.T * X_nm), X_nm, 2 * X_nm)),
        TextbookIdentity("tr(XᵀBX) = (B + Bᵀ)X", "Cookbook §2.5.2",
                  lambda: (mc.trace(X_nm.T * B_nn * X_nm), X_nm, (B_nn + B_nn.T) * X_nm)),
        TextbookIdentity("tr(X²) = 2Xᵀ", "Cookbook §2.5.2",
                  lambda: (mc.trace(X ** 2), X, 2 * X.T)),
        TextbookIdentity("det X = det(X) X⁻ᵀ", "Cookbook §2.1.2 eq. (49), Jacobi's formula",
                  lambda: (mc.det(X), X, mc.det(X) * mc.inv(X).T), invertible=("X",)),
        TextbookIdentity("log det X = X⁻ᵀ", "Cookbook §2.1.2 eq. (57)",
                  lambda: (mc.logdet(X), X, mc.inv(X).T), invertible=("X",)),
        TextbookIdentity("aᵀX⁻¹b = −X⁻ᵀabᵀX⁻ᵀ", "Cookbook §2.2 eq. (61)",
                  lambda: (a.T * mc.inv(X) * b, X, -mc.inv(X).T * a * b.T * mc.inv(X).T), invertible=("X",)),
        TextbookIdentity("tr(AX⁻¹B) = −(X⁻¹BAX⁻¹)ᵀ", "Cookbook §2.2 eq. (63)",
                  lambda: (mc.trace(M("A", m, n) * mc.inv(X) * M("B", n, m)), X,
                           -(mc.inv(X) * M("B", n, m) * M("A", m, n) * mc.inv(X)).T), invertible=("X",)),
        TextbookIdentity("aᵀXb = abᵀ", "Cookbook §2.4.1 eq. (70)",
                  lambda: (M("a", n, 1).T * X_nm * M("b", m, 1), X_nm, M("a", n, 1) * M("b", m, 1).T)),
        TextbookIdentity("aᵀXᵀb = baᵀ", "Cookbook §2.4.1 eq. (71)",
                  lambda: (M("a", m, 1).T * X_nm.T * M("b", n, 1), X_nm, M("b", n, 1) * M("a", m, 1).T)),
        TextbookIdentity("xᵀBx = (B + Bᵀ)x", "Cookbook §2.4.2 eq. (81)",
                  lambda: (x_col.T * B_nn * x_col, x_col, (B_nn + B_nn.T) * x_col)),
        TextbookIdentity("x A xᵀ = x(A + Aᵀ)", "seed 000, row vectors",
                  lambda: (x_row * A_nn * x_row.T, x_row, x_row * (A_nn + A_nn.T))),
        TextbookIdentity("x A xᵀ wrt A = xᵀx", "seed 000",
                  lambda: (x_row * A_nn * x_row.T, A_nn, x_row.T * x_row)),
        TextbookIdentity("1ᵀexp(Xw) = Xᵀexp(Xw)", "issue 2",
                  lambda: (mc.ones(1, N) * mc.exp(M("X", N, n) * x_col), x_col,
                           M("X", N, n).T * mc.exp(M("X", N, n) * x_col))),
        TextbookIdentity("logsumexp(x) = softmax(x), column", "log-sum-exp gradient",
                  lambda: (mc.logsumexp(x_col), x_col, mc.softmax(x_col))),
        TextbookIdentity("logsumexp(x) = softmax(x), row", "log-sum-exp gradient",
                  lambda: (mc.logsumexp(x_row), x_row, mc.softmax(x_row))),
        TextbookIdentity("‖x‖ = x/‖x‖", "Cookbook §2.6.1 eq. (129) with a = 0",
                  lambda: (mc.norm(x_col), x_col, x_col / mc.norm(x_col))),
        TextbookIdentity("‖X‖²_F = 2X", "Cookbook §2.6.2",
                  lambda: (mc.norm(X_nm) ** 2, X_nm, 2 * X_nm)),
        TextbookIdentity("‖Ax − b‖² = 2Aᵀ(Ax − b)", "least squares normal equations",
                  lambda: (mc.norm(M("A", m, n) * x_col - M("b", m, 1)) ** 2, x_col,
                           2 * M("A", m, n).T * (M("A", m, n) * x_col - M("b", m, 1)))),
        TextbookIdentity("sum σ(X) = σ(X) ⊙ (1 − σ(X))", "σ′ = σ(1 − σ)",
                  lambda: (mc.sum(mc.sigmoid(X_nm)), X_nm,
                           mc.hadamard(mc.sigmoid(X_nm), mc.ones(n, m) - mc.sigmoid(X_nm)))),
        TextbookIdentity("sum tanh(X) = 1 − tanh²(X)", "tanh′ = 1 − tanh²",
                  lambda: (mc.sum(mc.tanh(X_nm)), X_nm,
                           mc.ones(n, m) - mc.hadamard(mc.tanh(X_nm), mc.tanh(X_nm)))),
        TextbookIdentity("−sum(Y ⊙ log softmax(Z))/N = (softmax(Z) − Y)/N, one-hot", "seed 000",
                  lambda: (-mc.sum(mc.hadamard(M("Y", N, m, onehot=True), mc.log(mc.softmax(M("Z", N, m)))))
                           / mc.dim(N), M("Z", N, m),
                           (mc.softmax(M("Z", N, m)) - M("Y", N, m, onehot=True)) / mc.dim(N)),
                  onehot=("Y",)),
        TextbookIdentity("binary cross-entropy = Xᵀ(σ(Xw) − y)", "logistic regression",
                  lambda: (-(M("y", N, 1).T * mc.log(mc.sigmoid(M("X", N, n) * x_col))
                             + (mc.ones(1, N) - M("y", N, 1).T)
                             * mc.log(mc.ones(N, 1) - mc.sigmoid(M("X", N, n) * x_col))),
                           x_col, M("X", N, n).T * (mc.sigmoid(M("X", N, n) * x_col) - M("y", N, 1)))),
        TextbookIdentity("∂(xA + b)/∂x = Aᵀ", "seed 000, numerator layout",
                  lambda: (x_row * M("A", n, m) + M("b", 1, m), x_row, M("A", n, m).T), kind="jacobian"),
        TextbookIdentity("∂(xA + b)/∂b = I", "seed 000",
                  lambda: (x_row * M("A", n, m) + M("b", 1, m), M("b", 1, m), Identity(mc.dim(m))),
                  kind="jacobian"),
        TextbookIdentity("∂(Ax + b)/∂x = A", "column vectors, numerator layout",
                  lambda: (M("A", m, n) * x_col + M("b", m, 1), x_col, M("A", m, n)), kind="jacobian"),
        TextbookIdentity("∂(Ax + b)/∂x = Aᵀ, denominator layout", "denominator layout",
                  lambda: (M("A", m, n) * x_col + M("b", m, 1), x_col, M("A", m, n).T),
                  kind="jacobian denominator"),
        TextbookIdentity("∂softmax(z)/∂z = diag(s) − s sᵀ", "softmax Jacobian",
                  lambda: (mc.softmax(x_col), x_col,
                           mc.diag(mc.softmax(x_col)) - mc.softmax(x_col) * mc.softmax(x_col).T),
                  kind="jacobian"),
        TextbookIdentity("∂σ(Wx)/∂x = diag(σ ⊙ (1 − σ)) W", "seed 002",
                  lambda: (mc.sigmoid(M("W", m, n) * x_col), x_col,
                           mc.diag(mc.hadamard(mc.sigmoid(M("W", m, n) * x_col),
                                               mc.ones(m, 1) - mc.sigmoid(M("W", m, n) * x_col)))
                           * M("W", m, n)), kind="jacobian"),
        TextbookIdentity("Hessian of xᵀAx = A + Aᵀ", "Cookbook §2.4.2",
                  lambda: (x_col.T * A_nn * x_col, x_col, A_nn + A_nn.T), kind="hessian"),
        TextbookIdentity("Hessian of ‖Ax − b‖² = 2AᵀA", "least squares",
                  lambda: (mc.norm(M("A", m, n) * x_col - M("b", m, 1)) ** 2, x_col,
                           2 * M("A", m, n).T * M("A", m, n)), kind="hessian"),
        TextbookIdentity("Hessian of the logistic loss = Xᵀ diag(p ⊙ (1 − p)) X", "logistic regression",
                  lambda: (-(M("y", N, 1).T * mc.log(mc.sigmoid(M("X", N, n) * x_col))
                             + (mc.ones(1, N) - M("y", N, 1).T)
                             * mc.log(mc.ones(N, 1) - mc.sigmoid(M("X", N, n) * x_col))),
                           x_col,
                           M("X", N, n).T * mc.diag(mc.hadamard(mc.sigmoid(M("X", N, n) * x_col),
                                                                mc.ones(N, 1) - mc.sigmoid(M("X", N, n) * x_col)))
                           * M("X", N, n)), kind="hessian"),
    ]


IDENTITIES = {identity.name: identity for identity in _identities()}


def _derivative(kind, f, x):
    if kind == "gradient":
        return mc.gradient(f, x)
    if kind == "jacobian":
        return mc.jacobian(f, x)
    if kind == "jacobian denominator":
        return mc.jacobian(f, x, layout="denominator")
    return mc.hessian(f, x)


_ASCII = str.maketrans({"ᵀ": "T", "∘": "o", "⁻": "^-", "¹": "1", "²": "^2", "‖": "||", "σ": "sigma", "⊙": "*",
                        "∂": "d", "−": "-", "₁": "1"})


def ascii_id(text):
    """Test ids that can be typed after -k."""
    return text.translate(_ASCII).encode("ascii", "replace").decode()


@pytest.mark.parametrize("name", [
    pytest.param(i.name, id=ascii_id(i.name), marks=[pytest.mark.xfail(strict=True, reason=i.xfail)] if i.xfail else [])
    for i in IDENTITIES.values()])
def test_closed_form_symbolically(name):
    """The result is the textbook formula: structurally, or their difference simplifies to 0."""
    identity = IDENTITIES[name]
    f, x, expected = identity.build()
    result = _derivative(identity.kind, f, x)
    assert result.shape == expected.shape
    if result != expected and result != mc.simplify(expected):
        difference = mc.simplify(result - expected)
        assert is_zero(difference), f"\n got      {result}\n expected {expected}\n difference {difference}"


@pytest.mark.parametrize("name", list(IDENTITIES), ids=[ascii_id(n) for n in IDENTITIES])
def test_closed_form_numerically(name):
    """The textbook formula itself agrees with finite differences, and so does the result."""
    identity = IDENTITIES[name]
    f, x, expected = identity.build()
    result = _derivative(identity.kind, f, x)
    sizes = {"n": 3, "m": 2, "k": 4, "N": 5}
    for seed in SEEDS:
        values = values_for(f, identity, sizes, seed)
        values = dict(values_for(expected, identity, sizes, seed), **values)
        dims = infer_dims(f, values)
        dims.update(infer_dims(expected, values))
        np.testing.assert_allclose(np.asarray(evaluate(result, values, dims), dtype=float),
                                   np.asarray(evaluate(expected, values, dims), dtype=float),
                                   rtol=1e-9, atol=1e-12)
        if identity.kind == "gradient":
            assert check_gradient(f, x, expected, values, seed=seed) < TOLERANCE
        elif identity.kind == "hessian":
            assert check_hessian(f, x, expected, values, seed=seed) < HESSIAN_TOLERANCE
        else:
            layout = "denominator" if identity.kind.endswith("denominator") else "numerator"
            assert check_jacobian(f, x, expected, values, seed=seed, layout=layout) < TOLERANCE


# ------------------------------------------------------------------ symmetric symbols

@pytest.mark.parametrize("build", [
    lambda S, A, x: mc.logdet(S),
    lambda S, A, x: mc.det(S),
    lambda S, A, x: mc.trace(A * S),
    lambda S, A, x: x.T * S.I * x,
    lambda S, A, x: x.T * S.T * A * S * x,
], ids=["logdet", "det", "trace", "inverse quadratic", "sandwich"])
def test_symmetric_symbol_gradient_along_symmetric_directions(build):
    """For a symmetric (spd) S matcalc returns the unconstrained gradient G (Sᵀ folded to S);
    it is only meaningful along symmetric directions V = Vᵀ, where ⟨G, V⟩ must match."""
    S, A, x = M("S", "n", "n", spd=True), M("A", "n", "n"), M("x", "n", 1)
    f = build(S, A, x)
    G = mc.gradient(f, S)
    for sizes in SIZES:
        for seed in SEEDS:
            values = random_values(f, sizes, seed)
            direction = np.random.default_rng(seed + 17).standard_normal(values["S"].shape)
            direction = direction + direction.T
            numeric = scalar_value(_directional_difference(f, S, values, direction))
            symbolic = float((np.asarray(evaluate(G, values, infer_dims(f, values))) * direction).sum())
            assert _relative(symbolic, numeric) < TOLERANCE, (sizes, seed, G)


# ------------------------------------------------------------------ known bugs
# Minimal reproducers of differentiator/simplifier bugs found by these tests and by
# tests/test_property.py (which rejects examples hitting them; see KNOWN_BUGS there).
# Each is a strict xfail: when the bug is fixed it passes, the xfail turns red, and the
# marker (and the KNOWN_BUGS entry) should go.

def _recursion_bug_cases():
    C, A, B, x = M("C", "n", "m"), M("A", "m", "n"), M("B", "n", "n"), M("x", "n", 1)
    return {
        "jacobian of softmax(C exp(Ax))": ("jacobian", mc.softmax(C * mc.exp(A * x)), x),
        "hessian of logsumexp(tanh x)": ("hessian", mc.logsumexp(mc.tanh(x)), x),
        "hessian of ‖(Bᵀx) ⊙ x∘²‖²": ("hessian", mc.norm(mc.hadamard(B.T * x, mc.power(x, 2))) ** 2, x),
    }


@pytest.mark.parametrize("name", list(_recursion_bug_cases()), ids=ascii_id)
def test_regression_simplifier_recursion(name):
    """Once a RecursionError: _distribute_diagonal simplified the distributed sum and
    _factor pulled diag(s) back out, round and round."""
    kind, f, x = _recursion_bug_cases()[name]
    values = random_values(f, SIZES[0])
    if kind == "jacobian":
        assert check_jacobian(f, x, mc.jacobian(f, x), values) < TOLERANCE
    else:
        assert check_hessian(f, x, mc.hessian(f, x), values) < HESSIAN_TOLERANCE


def _scalar_factor_bug_cases():
    P, Q, A, B = M("P", "m", "m"), M("Q", "m", "m"), M("A", 2, 2), M("B", 2, 2)
    return {
        "norm of (PQ - P)/2": (mc.norm(P * Q / 2 - P / 2), P),
        "a scalar times an inverse": (mc.sum(mc.sum(P ** 2) * mc.inv(B + A / 10)), P),
    }


@pytest.mark.parametrize("name", list(_scalar_factor_bug_cases()))
def test_regression_common_scalar_type_error(name):
    """Once a TypeError: sympy.factor_terms descended into the matrix arguments of
    scalar nodes (Norm, SumAll)."""
    f, P = _scalar_factor_bug_cases()[name]
    G = mc.gradient(f, P)
    values = values_for(f, Case("bug", None, invertible=("B",)), SIZES[0], 0)
    assert check_gradient(f, P, G, values) < TOLERANCE


def test_random_values_sample_each_assumption():
    """The finite-difference checks draw values that satisfy the symbols' assumptions."""
    S, P = mc.matrix("S", "n", "n", spd=True), mc.matrix("P", "n", "n", positive=True)
    Y, B = mc.matrix("Y", "m", "n", onehot=True), mc.matrix("B", "m", "n", binary=True)
    expr = mc.sum(S) + mc.sum(P) + mc.sum(Y) + mc.sum(B)
    values = random_values(expr, {"n": 4, "m": 6}, seed=1)
    assert np.all(np.linalg.eigvalsh(values["S"]) > 0) and np.allclose(values["S"], values["S"].T)
    assert np.all(values["P"] >= 0.5)
    assert np.array_equal(values["Y"].sum(axis=1), np.ones(6)) and set(np.unique(values["Y"])) == {0.0, 1.0}
    assert set(np.unique(values["B"])) == {0.0, 1.0}
