"""The functions of matrices users call: the kink conventions, stable compiled forms, the
text syntax for each, and SymPy's ``applyfunc`` adopted as matcalc's own nodes.

Every rule is also checked against finite differences in tests/calculus/test_rules.py and
against JAX in tests/test_differential.py; here are the points those tests stay away from
(kinks, ties, overflow) and the forms a reader sees.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import matcalc as mc

n = "n"
x, y = mc.colvec("x", n), mc.colvec("y", n)
X = mc.matrix("X", n, "m")


def grad_at(f, wrt, **values):
    return mc.compile(mc.gradient(f, wrt))(**values)


# ------------------------------------------------------------------ conventions at kinks

def test_abs_relu_and_sign_have_slope_zero_at_zero():
    at = np.array([[0.0], [2.0], [-3.0]])
    assert grad_at(mc.sum(mc.abs(x)), x, x=at).ravel().tolist() == [0.0, 1.0, -1.0]
    assert grad_at(mc.sum(mc.relu(x)), x, x=at).ravel().tolist() == [0.0, 1.0, 0.0]
    assert mc.to_text(mc.gradient(mc.sum(mc.hadamard(mc.sign(x), y)), x)) == "0"     # flat, and 0 at the jump


def test_a_tie_of_maximum_gives_each_argument_half():
    a = np.array([[1.0], [2.0], [0.0]])
    b = np.array([[1.0], [0.0], [5.0]])
    f = mc.sum(mc.maximum(x, y))
    assert grad_at(f, x, x=a, y=b).ravel().tolist() == [0.5, 1.0, 0.0]
    assert grad_at(f, y, x=a, y=b).ravel().tolist() == [0.5, 0.0, 1.0]
    g = mc.sum(mc.minimum(x, y))
    assert grad_at(g, x, x=a, y=b).ravel().tolist() == [0.5, 0.0, 1.0]


def test_tied_maxima_share_the_gradient():
    values = np.array([[3.0, 1.0], [3.0, 3.0]])
    assert grad_at(mc.max(X), X, X=values).tolist() == [[1 / 3, 0.0], [1 / 3, 1 / 3]]
    assert grad_at(mc.sum(mc.max(X, 1)), X, X=values).tolist() == [[1.0, 0.0], [0.5, 0.5]]
    assert grad_at(mc.sum(mc.min(X, 0)), X, X=values).tolist() == [[0.5, 1.0], [0.5, 0.0]]


# ------------------------------------------------------------------ stable compiled forms

def test_softplus_logsigmoid_and_gelu_do_not_overflow():
    big = np.array([[1000.0], [-1000.0], [0.0], [-20.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert mc.compile(mc.softplus(x))(x=big).ravel().tolist() == [1000.0, 0.0, math.log(2), pytest.approx(2.061153622438558e-09)]
        assert mc.compile(mc.logsigmoid(x))(x=big).ravel()[:3].tolist() == [0.0, -1000.0, -math.log(2)]
        slopes = grad_at(mc.sum(mc.softplus(x)), x, x=big).ravel()
    assert slopes[0] == 1.0 and 0 <= slopes[1] < 1e-300     # σ(−1000): EXPCAP keeps it finite
    gelu = mc.compile(mc.gelu(x))(x=big).ravel()
    assert gelu[0] == 1000.0 and gelu[1] == 0.0 and gelu[2] == 0.0
    assert gelu[3] == pytest.approx(-20 * 0.5 * math.erfc(20 / math.sqrt(2)), rel=1e-12)
    assert gelu[3] < 0     # the lower tail of Φ is not rounded to 0


def test_erf_is_the_standard_library_erf_entry_by_entry():
    values = np.linspace(-3, 3, 13).reshape(13, 1)
    assert mc.compile(mc.erf(x))(x=values).ravel().tolist() == [math.erf(v) for v in values.ravel()]


@pytest.mark.parametrize("name, numpy", [
    ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("arcsin", np.arcsin), ("arccos", np.arccos),
    ("arctan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh), ("abs", np.abs), ("sign", np.sign),
    ("log1p", np.log1p), ("expm1", np.expm1), ("square", np.square), ("reciprocal", np.reciprocal),
])
def test_each_function_computes_what_numpy_computes(name, numpy):
    values = np.array([[-0.75], [-0.1], [0.3], [0.9]])
    got = mc.compile(getattr(mc, name)(x))(x=values)
    np.testing.assert_allclose(got, numpy(values), rtol=1e-15)


def test_extremes_compile_as_numpy_reductions():
    values = np.random.default_rng(0).standard_normal((4, 3))
    assert mc.compile(mc.max(X))(X=values) == values.max()
    np.testing.assert_array_equal(mc.compile(mc.min(X, 0))(X=values), values.min(axis=0, keepdims=True))
    np.testing.assert_array_equal(mc.compile(mc.max(X, 1))(X=values), values.max(axis=1, keepdims=True))
    assert mc.compile(mc.norm(X, 1))(X=values) == pytest.approx(np.abs(values).sum(), rel=1e-15)
    assert mc.compile(mc.norm(X, np.inf))(X=values) == np.abs(values).max()


def test_norm_refuses_other_orders():
    with pytest.raises(ValueError, match="p = 1, 2"):
        mc.norm(x, 3)


def test_maximum_broadcasts_a_scalar_and_checks_shapes():
    assert mc.to_text(mc.maximum(x, 0)) == "max(x, 0)"
    assert mc.maximum(sympy.Symbol("a"), 1) == sympy.Max(sympy.Symbol("a"), 1)
    with pytest.raises(mc.ShapeError):
        mc.maximum(x, mc.rowvec("r", n))


# ------------------------------------------------------------------ the text syntax

SHAPES = {"x": ("n", 1), "y": ("n", 1), "X": ("n", "m"), "b": (1, "m")}


@pytest.mark.parametrize("text, api", [
    ("sum(sin(x))", lambda: mc.sum(mc.sin(x))),
    ("abs(x)", lambda: mc.abs(x)),
    ("norm(x, 1)", lambda: mc.norm(x, 1)),
    ("norm(x, 2)", lambda: mc.norm(x)),
    ("max(X)", lambda: mc.max(X)),
    ("max(X, axis=1)", lambda: mc.max(X, 1)),
    ("min(X, 0)", lambda: mc.min(X, 0)),
    ("maximum(x, y)", lambda: mc.maximum(x, y)),
    ("square(x) + reciprocal(y)", lambda: mc.square(x) + mc.reciprocal(y)),
    ("logsigmoid(x)", lambda: mc.log(mc.sigmoid(x))),
])
def test_the_text_syntax_builds_what_the_api_builds(text, api):
    assert mc.parse(text, SHAPES) == api()


def test_maximum_in_text_broadcasts_like_plus():
    value = mc.parse("maximum(X, b)", SHAPES)
    values = {"X": np.arange(6.0).reshape(3, 2) - 2, "b": np.array([[0.5, -1.0]])}
    np.testing.assert_array_equal(mc.compile(value)(**values), np.maximum(values["X"], values["b"]))
    assert mc.to_text(mc.parse("maximum(x, 0)", SHAPES)) == "max(x, 0)"


def test_norm_in_text_takes_one_or_two():
    with pytest.raises(mc.ParseError, match="p = 1 or 2"):
        mc.parse("norm(x, 3)", SHAPES)


def test_pi_and_e_are_numbers_unless_declared():
    assert mc.to_text(mc.parse("pi * sum(x)", SHAPES)) == "π·sum(x)"
    assert mc.parse("e", {}) == sympy.E
    e = mc.parse("e * 2", {"e": ()})
    assert e.free_symbols and e != 2 * sympy.E


def test_decimals_print_as_typed():
    gelu_tanh = mc.parse("0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x ** 3)))", SHAPES)
    text = mc.to_text(gelu_tanh)
    assert "0.044715 (x∘³)" in text and "tanh(0.7978845608 " in text      # not 8943/200000
    assert text.startswith("(1/2) ")                                        # 0.5 is the textbook ½
    assert mc.to_text(mc.parse("1.702 * x", SHAPES)) == "1.702 x"


# ------------------------------------------------------------------ SymPy's applyfunc

def test_applyfunc_of_a_known_function_is_matcalc_s_node():
    g = mc.gradient(mc.sum(x.applyfunc(sympy.sin)), x)
    assert mc.to_text(g) == "cos(x)"
    assert mc.to_text(mc.gradient(mc.sum(x.applyfunc(sympy.exp)), x)) == "exp(x)"


def test_applyfunc_of_any_function_is_differentiated_through_sympy():
    d = sympy.Dummy("d")
    f = mc.sum(x.applyfunc(sympy.Lambda(d, d ** 2 + sympy.sin(d))))
    g = mc.gradient(f, x)
    assert mc.to_text(g) == "(t ↦ 2·t + cos(t))∘(x)"
    values = np.array([[0.3], [-1.2]])
    np.testing.assert_allclose(mc.compile(g)(x=values), 2 * values + np.cos(values), rtol=1e-15)
    # a function of no variable at all is constant: its derivative is 0
    assert mc.to_text(mc.gradient(mc.sum(x.applyfunc(sympy.Lambda(d, sympy.Integer(3)))), x)) == "0"
