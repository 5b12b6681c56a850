"""Vector-Jacobian products: ``mc.vjp(Y, X, G)`` = ∂⟨G, Y⟩/∂X, and ``mc.derive(..., cotangent=G)``.

The engine seeds the reverse mode with Ȳ = G instead of building sum(G ⊙ Y); every result
is checked against central finite differences of ⟨G, Y⟩ = sum(G ⊙ Y), evaluated by the
independent NumPy interpreter of ``tests/numeric.py``, and against ``mc.gradient`` of that
sum.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy

import matcalc as mc
from numeric import check_gradient, evaluate, infer_dims, random_values

TOLERANCE = 1e-6
SIZES = {"T": 4, "dk": 3, "dv": 2, "N": 5, "d": 3, "h": 2}

Q, K = mc.matrix("Q", "T", "dk"), mc.matrix("K", "T", "dk")
V, G = mc.matrix("V", "T", "dv"), mc.matrix("G", "T", "dv")


def attention():
    """softmax(Q Kᵀ/√d) V, the scaled dot-product attention of one head."""
    return mc.softmax(Q * K.T / sympy.sqrt(mc.dim("dk"))) * V


def inner_product(G, Y):
    return mc.sum(mc.hadamard(G, Y))


@pytest.mark.parametrize("variable", [Q, K, V], ids=["Q", "K", "V"])
def test_attention_gradients_against_finite_differences(variable):
    Y = attention()
    result = mc.vjp(Y, variable, G)
    assert result.shape == variable.shape
    f = inner_product(G, Y)
    for seed in (0, 1):
        values = random_values(f, SIZES, seed)
        assert check_gradient(f, variable, result, values, seed=seed) < TOLERANCE


def test_attention_gradients_all_at_once_equal_the_gradient_of_the_inner_product():
    Y = attention()
    results = mc.vjp(Y, [Q, K, V], G)
    f = inner_product(G, Y)
    values = random_values(f, SIZES, 0)
    dims = infer_dims(f, values)
    for x, result in zip((Q, K, V), results):
        np.testing.assert_allclose(evaluate(result, values, dims), evaluate(mc.gradient(f, x), values, dims),
                                   rtol=1e-10, atol=1e-12)


def test_the_value_gradient_is_the_textbook_one():
    # ∂⟨G, A V⟩/∂V = Aᵀ G with A = softmax(Q Kᵀ/√d)
    assert mc.vjp(attention(), V, G) == mc.softmax(Q * K.T / sympy.sqrt(mc.dim("dk"))).T * G


def test_a_layer_of_backpropagation():
    X, W, b = mc.matrix("X", "N", "d"), mc.matrix("W", "d", "h"), mc.rowvec("b", "h")
    upstream = mc.matrix("G", "N", "h")
    Y = mc.sigmoid(X * W + mc.ones("N", 1) * b)
    for variable in (W, b, X):
        result = mc.vjp(Y, variable, upstream)
        values = random_values(inner_product(upstream, Y), SIZES, 0)
        assert check_gradient(inner_product(upstream, Y), variable, result, values) < TOLERANCE


def test_an_expression_as_the_cotangent():
    X, W = mc.matrix("X", "N", "d"), mc.matrix("W", "d", "h")
    R = mc.matrix("R", "N", "h")
    Y = mc.tanh(X * W)
    cotangent = 2 * (Y - R)   # the cotangent of ‖Y − R‖² is an expression of Y, held constant
    result = mc.vjp(Y, W, cotangent)
    values = random_values(inner_product(cotangent, Y), SIZES, 0)
    # the product rule: d⟨2(Y − R), Y⟩ holds the cotangent fixed, so compare with ∂‖Y − R‖²/∂W
    expected = mc.gradient(mc.norm(Y - R) ** 2, W)
    dims = infer_dims(Y, values)
    np.testing.assert_allclose(evaluate(result, values, dims), evaluate(expected, values, dims), rtol=1e-10)


def test_a_scalar_variable_and_a_scalar_function():
    tau = mc.scalar("tau", positive=True)
    Y = mc.softmax(Q * K.T / tau) * V
    result = mc.vjp(Y, tau, G)
    assert not isinstance(result, sympy.MatrixExpr)
    values = random_values(inner_product(G, Y), SIZES, 0)
    assert check_gradient(inner_product(G, Y), tau, result, values) < TOLERANCE
    # a scalar function with a scalar cotangent g: g ∂f/∂X
    f = mc.sum(mc.exp(Q))
    assert mc.simplify(mc.vjp(f, Q, 3) - 3 * mc.gradient(f, Q)) == sympy.ZeroMatrix(*Q.shape)


def test_a_cotangent_of_the_wrong_shape_is_a_shape_error():
    with pytest.raises(mc.ShapeError, match=r"cotangent H \(T×dk\) must have the shape of the function"):
        mc.vjp(attention(), Q, mc.matrix("H", "T", "dk"))
    with pytest.raises(mc.ShapeError, match="a scalar"):
        mc.vjp(attention(), Q, mc.scalar("g"))


def test_a_cotangent_that_depends_on_the_variable_is_held_constant():
    # ∂⟨G, A V⟩/∂V = Aᵀ G with G = 2V held constant (the chain rule's step), not 4 Aᵀ V
    result = mc.vjp(attention(), V, 2 * V)
    values = random_values(attention(), SIZES, 0)
    A = evaluate(mc.softmax(Q * K.T / sympy.sqrt(mc.dim("dk"))), values)
    np.testing.assert_allclose(evaluate(result, values), A.T @ (2 * values["V"]), rtol=1e-10)


def test_derive_with_a_cotangent_is_a_vjp_derivation():
    derivation = mc.derive(attention(), wrt=[Q, V], cotangent=G)
    assert derivation.kind == "vjp" and derivation.cotangent == G
    assert derivation.result == mc.vjp(attention(), [Q, V], G)
    assert derivation.steps and any(step.rule == "chain rule through softmax" for step in derivation.steps)
    lines = str(derivation).splitlines()
    assert lines[0] == "vector-Jacobian product of Y with cotangent G, with respect to Q, V"
    # the attention weights are named once, and the products written with them
    assert "  A = softmax(Z)" in lines and "  ∂⟨G, Y⟩/∂V = Aᵀ G" in lines
    assert sum(line.count("softmax(") for line in lines) == 1
    with pytest.raises(mc.DifferentiationError, match="needs a cotangent"):
        mc.derive(attention(), wrt=Q, kind="vjp")


@pytest.mark.parametrize("template", ["article", "fragment", "markdown", "notebook"])
def test_vjp_derivations_render(template):
    text = mc.to_latex(mc.derive(attention(), wrt=[Q, K, V], cotangent=G), template=template)
    assert r"\frac{\partial \langle G, Y \rangle}{\partial Q}" in text
    if template in ("article", "markdown"):
        assert "Vector-Jacobian products of $Y$ with respect to $Q$, $K$ and $V$ with cotangent $G$" in text
        assert r"G \in \mathbb{R}^{T \times dv}" in text
        assert r"\frac{\partial \langle G, Y \rangle}{\partial Y} = G" in text


def test_vjp_results_compile():
    Y = attention()
    result = mc.vjp(Y, K, G)
    compiled = mc.compile(result)
    values = random_values(inner_product(G, Y), SIZES, 0)
    got = compiled(**{k: v for k, v in values.items() if k in compiled.inputs})
    np.testing.assert_allclose(got, evaluate(result, values), rtol=1e-10)
