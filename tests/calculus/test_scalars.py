"""Scalar symbols as variables, and real and symbolic powers.

Gradients, Hessians and Jacobians with respect to a scalar symbol (``mc.scalar``): a bias,
a regulariser, a temperature, a noise variance, the exponent of a power; powers of 1×1
matrices with real and symbolic exponents (built with SymPy's ``**``) and entrywise powers
to a scalar exponent.  Every result is checked against central finite differences of the
function (``tests/numeric.py`` evaluates expressions with NumPy, independently of matcalc);
closed forms are compared numerically too.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy import Rational
from sympy.matrices.expressions import MatrixExpr

import matcalc as mc
from matcalc.output.text import to_text
from numeric import check_gradient, check_jacobian, evaluate, infer_dims, random_values

TOLERANCE = 1e-6
SIZES = {"n": 4, "N": 5, "d": 3, "m": 2}

N, d, n = "N", "d", "n"
DIM_N, DIM_d, DIM_n, DIM_m = mc.dim(N), mc.dim(d), mc.dim(n), mc.dim("m")
X, w, y = mc.matrix("X", N, d), mc.colvec("w", d), mc.colvec("y", N)
z = mc.colvec("z", n)
b, lam = mc.scalar("b"), mc.scalar("lam")
tau, s2 = mc.scalar("tau", positive=True), mc.scalar("s2", positive=True)
a, p = mc.scalar("a", positive=True), mc.scalar("p")


def values_for(*exprs, seed=0, positive=()):
    values = {}
    for expr in exprs:
        values = dict(random_values(expr, SIZES, seed, positive=positive), **values)
    return values


def gradient_error(f, x, G, seed=0, positive=()):
    return check_gradient(f, x, G, values_for(f, G, seed=seed, positive=positive), seed=seed)


def second_derivative_error(f, x, H, seed=0, eps=1e-4, positive=()):
    """|H − (f(x + ε) − 2 f(x) + f(x − ε))/ε²| for a scalar variable x, relative."""
    values = values_for(f, H, seed=seed, positive=positive)
    dims = infer_dims(f, values)

    def at(shift):
        return float(np.reshape(evaluate(f, dict(values, **{x.name: values[x.name] + shift}), dims), ()))

    numeric = (at(eps) - 2 * at(0.0) + at(-eps)) / eps ** 2
    symbolic = float(np.reshape(evaluate(H, values, dims), ()))
    return abs(symbolic - numeric) / max(1.0, abs(numeric))


def least_squares():
    """‖Xw + b1 − y‖² + λ‖w‖²: a bias b and a regulariser λ."""
    return mc.sum(mc.power(X * w + b * mc.ones(N, 1) - y, 2)) + lam * mc.norm(w) ** 2


# ------------------------------------------------------------------ gradients

def test_gradient_with_respect_to_a_bias_is_a_scalar():
    f = least_squares()
    G = mc.gradient(f, b)
    assert not isinstance(G, MatrixExpr)
    assert gradient_error(f, b, G) < TOLERANCE
    # ∂/∂b ‖r‖² = 2 sum(r) with r = Xw + b1 − y
    values = values_for(f)
    r = values["X"] @ values["w"] + values["b"] - values["y"]
    assert np.isclose(evaluate(G, values), 2 * r.sum())


def test_gradient_with_respect_to_a_regulariser():
    f = least_squares()
    G = mc.gradient(f, lam)
    assert G == mc.norm(w) ** 2
    assert gradient_error(f, lam, G) < TOLERANCE


def test_matrices_and_scalars_together():
    f = least_squares()
    G_w, G_b, G_lam = mc.gradient(f, [w, b, lam])
    assert G_w.shape == w.shape and not isinstance(G_b, MatrixExpr) and not isinstance(G_lam, MatrixExpr)
    for x, G in ((w, G_w), (b, G_b), (lam, G_lam)):
        assert gradient_error(f, x, G) < TOLERANCE
    # the same gradients one at a time
    assert G_b == mc.gradient(f, b) and G_w == mc.gradient(f, w)


def test_bias_broadcast_over_a_matrix_of_logits():
    # softmax cross-entropy with a scalar bias added to every logit: ∂/∂b = 0 (softmax is
    # shift invariant); a scale s of the logits is not
    Y, W = mc.matrix("Y", N, "m", onehot=True), mc.matrix("W", d, "m")
    s = mc.scalar("s")
    f = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(s * X * W + b * mc.ones(N, "m"))))) / mc.dim(N)
    G_b, G_s = mc.gradient(f, [b, s])
    for x, G in ((b, G_b), (s, G_s)):
        assert gradient_error(f, x, G) < TOLERANCE
    assert abs(evaluate(G_b, values_for(f))) < 1e-12


def test_temperature_of_a_logsumexp():
    f = mc.logsumexp(z / tau)
    G = mc.gradient(f, tau)
    assert gradient_error(f, tau, G) < TOLERANCE
    # ∂/∂τ logsumexp(z/τ) = −softmax(z/τ)ᵀ z / τ²
    values = values_for(f)
    t, v = values["tau"], values["z"].ravel()
    e = np.exp(v / t - (v / t).max())
    assert np.isclose(evaluate(G, values), -(e / e.sum()) @ v / t ** 2)


def test_noise_variance_of_a_gaussian_negative_log_likelihood():
    mu = mc.colvec("mu", n)
    f = mc.dim(n) / 2 * sympy.log(s2) + mc.norm(z - mu) ** 2 / (2 * s2)
    G = mc.gradient(f, s2)
    assert gradient_error(f, s2, G) < TOLERANCE
    # n/(2σ²) − ‖z − μ‖²/(2σ⁴), and zero at σ² = ‖z − μ‖²/n
    values = values_for(f)
    residual = ((values["z"] - values["mu"]) ** 2).sum()
    assert np.isclose(evaluate(G, values), SIZES["n"] / (2 * values["s2"]) - residual / (2 * values["s2"] ** 2))
    at_optimum = dict(values, s2=np.float64(residual / SIZES["n"]))
    assert abs(evaluate(G, at_optimum)) < 1e-12


def test_powers_of_scalar_variables():
    f = a ** b * mc.sum(mc.tanh(b * X)) + sympy.exp(a * b)
    G_a, G_b, G_X = mc.gradient(f, [a, b, X])
    for x, G in ((a, G_a), (b, G_b), (X, G_X)):
        assert gradient_error(f, x, G) < TOLERANCE
    g = a ** b
    assert mc.gradient(g, a) == b * a ** (b - 1)
    assert mc.gradient(g, b) == a ** b * sympy.log(a)


@pytest.mark.parametrize("build", [
    lambda: mc.sum(mc.exp(b * X)),
    lambda: mc.sum(mc.log(mc.hadamard(mc.exp(b * X), mc.matrix("P", N, d, positive=True)))),
    lambda: mc.trace(b * mc.matrix("A", n, n) + mc.inv(mc.eye(n) * 3 + b * mc.matrix("B", n, n))),
    lambda: mc.sum(mc.sigmoid(X * w * b)) + mc.norm(b * w) + mc.logsumexp(b * z),
    lambda: mc.sum(mc.power(b * X, 3)) + mc.sum(mc.relu(X - b * mc.ones(N, d))),
    lambda: mc.logdet(mc.eye(n) * 4 + b * mc.matrix("B", n, n)) + mc.det(mc.eye(n) + b * mc.matrix("B", n, n)),
], ids=["exp", "log", "trace and inverse", "sigmoid, norm, logsumexp", "powers and relu", "det and logdet"])
def test_scalar_adjoints_through_every_kind_of_node(build):
    f = build()
    G = mc.gradient(f, b)
    assert not isinstance(G, MatrixExpr)
    for seed in (0, 1):
        values = values_for(f, seed=seed)
        values["b"] = np.float64(0.1 + 0.2 * seed)   # keeps 3I + bB and 4I + bB well conditioned
        assert check_gradient(f, b, G, values, seed=seed) < TOLERANCE


def test_a_scalar_the_function_does_not_contain_has_gradient_zero():
    assert mc.gradient(mc.sum(X), b) == 0
    assert mc.jacobian(X * w, b) == sympy.ZeroMatrix(DIM_N, 1)
    assert mc.hessian(mc.sum(X), b) == 0


# ------------------------------------------------------------------ Hessians

def test_hessian_with_respect_to_a_scalar():
    f = least_squares()
    assert mc.hessian(f, b) == 2 * mc.dim(N)
    assert mc.hessian(f, lam) == 0
    g = mc.logsumexp(z / tau) + mc.dim(n) / 2 * sympy.log(s2) + mc.norm(z) ** 2 / (2 * s2)
    for x in (tau, s2):
        H = mc.hessian(g, x)
        assert not isinstance(H, MatrixExpr)
        for seed in (0, 1):
            assert second_derivative_error(g, x, H, seed=seed) < 1e-5, (x, seed)


def test_hessian_of_a_power_with_respect_to_its_exponent():
    P = mc.matrix("P", N, d, positive=True)
    f = mc.sum(mc.power(P, p)) + a ** p
    H = mc.hessian(f, p)
    assert second_derivative_error(f, p, H) < 1e-5


# ------------------------------------------------------------------ Jacobians

@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_jacobian_of_a_column_with_respect_to_a_scalar(layout):
    yv = mc.sigmoid(X * w * b + b ** 2 * y)
    J = mc.jacobian(yv, b, layout=layout)
    assert J.shape == ((DIM_N, 1) if layout == "numerator" else (1, DIM_N))
    assert check_jacobian(yv, b, J, values_for(yv), layout=layout) < TOLERANCE


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_jacobian_of_a_row_with_respect_to_a_scalar(layout):
    x = mc.rowvec("x", n)
    yv = mc.exp(b * x) * mc.matrix("A", n, "m") + lam * mc.rowvec("c", "m")
    J = mc.jacobian(yv, b, layout=layout)
    assert J.shape == ((DIM_m, 1) if layout == "numerator" else (1, DIM_m))
    assert check_jacobian(yv, b, J, values_for(yv), layout=layout) < TOLERANCE
    assert mc.jacobian(yv, lam, layout=layout) == (mc.rowvec("c", "m").T if layout == "numerator"
                                                   else mc.rowvec("c", "m"))


def test_jacobian_of_a_matrix_with_respect_to_a_scalar_is_shaped_like_it():
    Y = mc.softmax(X / tau) + b * X
    for layout in ("numerator", "denominator"):
        J = mc.jacobian(Y, tau, layout=layout)
        assert J.shape == Y.shape
        values = values_for(Y)
        eps = 1e-6
        plus = evaluate(Y, dict(values, tau=values["tau"] + eps))
        minus = evaluate(Y, dict(values, tau=values["tau"] - eps))
        assert np.allclose(evaluate(J, values), (plus - minus) / (2 * eps), atol=1e-8)
    assert mc.jacobian(Y, b) == X


def test_jacobian_of_a_scalar_with_respect_to_a_scalar_is_the_derivative():
    f = least_squares()
    assert mc.jacobian(f, b) == mc.gradient(f, b)


def test_jacobian_with_respect_to_a_vector_and_a_scalar_together():
    yv = mc.tanh(X * w + b * mc.ones(N, 1))
    J_w, J_b = mc.jacobian(yv, [w, b])
    assert J_w.shape == (DIM_N, DIM_d) and J_b.shape == (DIM_N, 1)
    values = values_for(yv)
    assert check_jacobian(yv, w, J_w, values) < TOLERANCE
    assert check_jacobian(yv, b, J_b, values) < TOLERANCE


# ------------------------------------------------------------------ powers of 1×1 matrices

def one_by_one_cases():
    x, u = mc.colvec("x", n), mc.colvec("u", n)
    A, c, e = mc.matrix("A", n, n), mc.colvec("c", n), mc.colvec("e", n)
    return {
        "square root of an inner product": ((x.T * u) ** Rational(1, 2), [x, u]),
        "cube root of a bilinear form": ((c.T * A * e) ** Rational(1, 3), [A, c, e]),
        "negative real power": ((x.T * u) ** Rational(-3, 2) + (x.T * u) ** sympy.Float(0.25), [x, u]),
        "symbolic exponent": ((x.T * x) ** p * (u.T * x), [x, u, p]),
        "power of a 1×1 in a larger product": (mc.sum(x * (u.T * x) ** Rational(1, 2)), [x, u]),
    }


@pytest.mark.parametrize("name", list(one_by_one_cases()))
def test_real_powers_of_one_by_one_matrices(name):
    f, variables = one_by_one_cases()[name]
    for x, G in zip(variables, mc.gradient(f, variables)):
        for seed in (0, 1):
            values = values_for(f, seed=seed, positive=("x", "u", "A", "c", "e"))
            assert check_gradient(f, x, G, values, seed=seed) < TOLERANCE, (x, G)
            compiled = mc.compile(G)
            got = compiled(**{k: v for k, v in values.items() if k in compiled.inputs})
            assert np.allclose(np.reshape(got, np.shape(values[x.name])),
                               evaluate(G, values, infer_dims(f, values)), rtol=1e-10)


def test_a_real_power_reads_like_the_scalar_rule():
    x, u, A = mc.colvec("x", n), mc.colvec("u", n), mc.matrix("A", n, n)
    # ∂/∂x (xᵀAx + 1)^{1/2} = ½ (A + Aᵀ) x (xᵀAx + 1)^{−1/2}: both terms see one power
    assert to_text(mc.gradient((x.T * A * x + 1) ** Rational(1, 2), x)) == "(1/2) (A + Aᵀ) x (xᵀ A x + 1)^(−1/2)"
    assert to_text(mc.gradient((x.T * u) ** Rational(1, 2), x)) == "(1/2) u (xᵀ u)^(−1/2)"
    assert to_text((x.T * x) ** p) == "(xᵀ x)^p"


def test_real_powers_compile_as_numpy_computes_them():
    x, u = mc.colvec("x", n), mc.colvec("u", n)
    f = mc.compile((x.T * u) ** Rational(1, 2))
    assert np.isclose(f(x=np.ones((3, 1)), u=np.full((3, 1), 3.0)), 3.0)
    with np.errstate(invalid="ignore"):
        assert np.isnan(f(x=np.ones((3, 1)), u=-np.ones((3, 1))))   # NumPy's answer: no special case


def test_a_matrix_to_a_real_power_has_no_rule():
    A = mc.matrix("A", n, n)
    with pytest.raises(mc.DifferentiationError, match="integer powers only"):
        mc.gradient(mc.trace(A ** Rational(1, 2)), A)


# ------------------------------------------------------------------ entrywise powers to a scalar

def test_entrywise_power_with_a_scalar_exponent():
    P = mc.matrix("P", N, d, positive=True)
    C = mc.matrix("C", N, d)
    f = mc.sum(mc.hadamard(C, mc.power(P, p)))
    G_P, G_p = mc.gradient(f, [P, p])
    for x, G in ((P, G_P), (p, G_p)):
        for seed in (0, 1):
            assert gradient_error(f, x, G, seed=seed) < TOLERANCE
    # p̄ = sum(C ⊙ P^{∘p} ⊙ log P)
    values = values_for(f)
    assert np.isclose(evaluate(G_p, values),
                      (values["C"] * values["P"] ** values["p"] * np.log(values["P"])).sum())


def test_entrywise_power_with_a_scalar_exponent_in_the_text_syntax():
    f = mc.parse("sum(x ** p) + sum(exp(x) ** (2 * p))", {"x": ("n", 1), "p": ()}, positive=("x",))
    x, p_text = f.atoms(mc.core.symbols.MatrixSymbol).pop(), mc.scalar("p")
    G_x, G_p = mc.gradient(f, [x, p_text])
    for v, G in ((x, G_x), (p_text, G_p)):
        assert gradient_error(f, v, G) < TOLERANCE
    compiled = mc.compile(G_p)
    values = values_for(f)
    assert np.isclose(compiled(x=values["x"], p=values["p"]), evaluate(G_p, values))


def test_jacobian_of_an_entrywise_power_with_respect_to_its_exponent():
    P = mc.colvec("P", n, positive=True)
    J = mc.jacobian(mc.power(P, p), p)
    assert J.shape == (DIM_n, 1)
    values = values_for(mc.power(P, p))
    assert check_jacobian(mc.power(P, p), p, J, values) < TOLERANCE


# ------------------------------------------------------------------ checks and derivations

def test_a_symbol_with_the_same_name_but_other_assumptions_is_named():
    f = least_squares()
    with pytest.raises(mc.DifferentiationError, match="same name with other assumptions"):
        mc.gradient(f, sympy.Symbol("b"))


def test_a_dimension_is_not_a_variable():
    with pytest.raises(mc.DifferentiationError, match="dimension"):
        mc.gradient(mc.sum(X) * mc.dim(N), mc.dim(N))


def test_an_expression_is_not_a_variable():
    with pytest.raises(mc.DifferentiationError, match="scalar symbol"):
        mc.gradient(least_squares(), 2 * b)


def test_derivations_with_respect_to_scalars_print_and_render():
    f = least_squares()
    gradient = mc.derive(f, [w, b])
    lines = str(gradient).splitlines()   # ∂L/∂b = 2 𝟏ᵀ(X w + b 𝟏 − y), the residual named r
    assert "  r = X w + b 𝟏 − y" in lines and "  ∂L/∂b = 2·sum(r)" in lines
    latex = mc.to_latex(gradient, template="fragment")
    assert r"\frac{\partial L}{\partial b}" in latex
    article = mc.to_latex(gradient)
    assert r"b \in \mathbb{R}" in article and r"\in \mathbb{R}^{d \times 1}" in article
    hessian = mc.to_latex(mc.derive(f, b, kind="hessian"), template="markdown")
    assert r"\frac{\partial^{2} L}{\partial b^{2}} &= 2 N" in hessian
    assert "Forward mode with respect to the scalar $b$" in hessian
    jacobian = mc.derive(mc.exp(b * z), b, kind="jacobian")
    latex = mc.to_latex(jacobian)
    assert r"\mathrm{d}b" in latex and "with respect to the scalar $b$" in latex


# ------------------------------------------------------------------ scalars inside SymPy's applyfunc

@pytest.mark.parametrize("function, variable", [
    (lambda t: sympy.sin(b * t), b),
    (lambda t: t ** p, p),
    (lambda t: sympy.besselj(0, b * t) + lam * t, b),
], ids=["sin(b t)", "t^p", "besselj(0, b t) + lam t"])
def test_a_scalar_variable_inside_an_applied_function(function, variable):
    # f∘(X) with f(t) = sin(b t): b̄ = sum(C̄ ⊙ (∂f/∂b)∘(X)), through SymPy's derivative
    P = mc.matrix("P", N, d, positive=True)
    f = mc.sum(mc.hadamard(X, P.applyfunc(function)))
    G = mc.gradient(f, variable)
    assert not isinstance(G, MatrixExpr)
    for seed in (0, 1):
        assert gradient_error(f, variable, G, seed=seed) < TOLERANCE
    assert second_derivative_error(f, variable, mc.hessian(f, variable)) < 1e-5
    column = mc.colvec("c", n, positive=True).applyfunc(function)
    assert check_jacobian(column, variable, mc.jacobian(column, variable), values_for(column)) < TOLERANCE
