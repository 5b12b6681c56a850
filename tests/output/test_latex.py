"""The LaTeX printer: textbook notation for every matrix construct, and nothing else.

The expected strings are the notation of the seed notes and of the Matrix Cookbook
(Petersen & Pedersen 2012, §1 "Notation"): Aᵀ as A^{\\top}, the Hadamard product as ⊙,
I_n, tr, det, ‖·‖, 1 for the vector of ones.
"""
import re

import pytest
import sympy
from hypothesis import given, settings, strategies as st
from sympy import Identity, Inverse, OneMatrix, ZeroMatrix
from sympy.matrices.expressions import MatPow

import matcalc as mc
from matcalc.core import functions as F
from matcalc.output.naming import _balanced
from matcalc.output.latex import MatcalcLatexPrinter, escape_text, latex, partial, rule_text, shape_space

n, m, N, K = mc.dim("n"), mc.dim("m"), mc.dim("N"), mc.dim("K")
A, B = mc.matrix("A", "n", "n"), mc.matrix("B", "n", "n")
X, Y = mc.matrix("X", "N", "n"), mc.matrix("Y", "N", "K")
W1, b1 = mc.matrix("W1", "n", "K"), mc.rowvec("b1", "K")
x, v = mc.rowvec("x", "n"), mc.colvec("v", "n")
Yhat = mc.matrix("Yhat", "N", "K")


@pytest.mark.parametrize("expr, expected", [
    (A.T, r"A^{\top}"),
    (W1.T, r"W_{1}^{\top}"),
    ((X * W1).T, r"W_{1}^{\top} X^{\top}"),
    (Inverse(A), r"A^{-1}"),
    (Inverse(A).T, r"A^{-\top}"),
    (Inverse(A.T), r"A^{-\top}"),
    (Inverse(A * B), r"(A B)^{-1}"),
    (MatPow(A, 2), r"A^{2}"),
    (F.hadamard(Yhat, Y), r"\hat{Y} \odot Y"),
    (F.power(Y, 2), r"Y^{\odot 2}"),
    (F.hadamard(Y, F.power(Yhat, -1)), r"Y \oslash \hat{Y}"),
    (Identity(n), r"I_{n}"),
    (ZeroMatrix(n, m), r"\mathbf{0}"),
    (OneMatrix(N, 1), r"\mathbf{1}_{N}"),
    (OneMatrix(1, N), r"\mathbf{1}_{N}^{\top}"),
    (OneMatrix(N, K), r"\mathbf{1}_{N \times K}"),
    (X * W1 + OneMatrix(N, 1) * b1, r"X W_{1} + \mathbf{1}_{N} b_{1}"),
    (OneMatrix(N, K) - Yhat, r"\mathbf{1} - \hat{Y}"),
    (Yhat - Y, r"\hat{Y} - Y"),
    ((Yhat - Y) / N, r"\frac{1}{N} (\hat{Y} - Y)"),
    (X.T * (Yhat - Y) / N, r"\frac{1}{N} X^{\top} (\hat{Y} - Y)"),
    (-X * W1, r"- X W_{1}"),
    (x * (A + A.T), r"x (A + A^{\top})"),
    (F.trace(A * B), r"\operatorname{tr}(A B)"),
    (F.det(A), r"\det(A)"),
    (F.logdet(A), r"\log\det(A)"),
    (F.diag(x), r"\operatorname{diag}(x)"),
    (F.sigmoid(X), r"\sigma(X)"),
    (F.exp(X), r"\exp(X)"),
    (F.log(X), r"\log(X)"),
    (F.tanh(X), r"\tanh(X)"),
    (F.relu(X), r"\operatorname{relu}(X)"),
    (F.step(X), r"\operatorname{step}(X)"),
    (F.sqrt(X), r"\sqrt{X}"),
    (F.softmax(X), r"\operatorname{softmax}(X)"),
    (F.softmax(v), r"\operatorname{softmax}(v)"),
    (F.softmax(X, axis=0), r"\operatorname{softmax}_{\mathrm{col}}(X)"),
    (F.logsumexp(X), r"\operatorname{logsumexp}(X)"),
    (F.sum(Y), r"\operatorname{sum}(Y)"),
    (F.norm(v) ** 2, r"\lVert v\rVert^{2}"),
    (-F.sum(F.hadamard(Y, F.log(Yhat))) / N, r"- \frac{1}{N} \operatorname{sum}(Y \odot \log(\hat{Y}))"),
    (2 * F.hadamard(Yhat - Y, Yhat), r"2 (\hat{Y} - Y) \odot \hat{Y}"),
    (sympy.Symbol("lambda") * A, r"\lambda A"),
])
def test_textbook_notation(expr, expected):
    assert latex(expr) == expected


def test_tall_arguments_get_stretchy_parentheses():
    assert latex(F.sigmoid(X / N)) == r"\sigma\left(\frac{1}{N} X\right)"


def test_names_follow_sympy_conventions():
    assert latex(mc.matrix("W2", 2, 3)) == "W_{2}"
    assert latex(mc.matrix("Yhat", 2, 3)) == r"\hat{Y}"
    assert latex(mc.matrix("alpha", 2, 3)) == r"\alpha"
    assert latex(mc.matrix(r"\hat{Y}", 2, 3)) == r"\hat{Y}"


def test_bold_vectors_only_bolds_vectors():
    assert latex(x * A, bold_vectors=True) == r"\boldsymbol{x} A"
    assert latex(v.T * A * v, bold_vectors=True) == r"\boldsymbol{v}^{\top} A \boldsymbol{v}"
    assert latex(mc.colvec("b1", "n"), bold_vectors=True) == r"\boldsymbol{b}_{1}"
    assert latex(x * A) == "x A"


def test_transpose_of_a_superscripted_name_is_braced():
    assert latex(mc.matrix("W^1", 2, 3).T) == r"{W^{1}}^{\top}"


def test_one_by_one_ones_and_identity_print_as_one():
    y = mc.matrix("y", 1, 1)
    assert latex(Identity(1) - y) == "1 - y"
    assert latex(OneMatrix(1, 1)) == "1"


def test_every_function_node_has_its_own_printer():
    nodes = [F.Exp, F.Log, F.Tanh, F.Sigmoid, F.Relu, F.Step, F.Sqrt, F.Softmax, F.LogSumExp,
             F.SumAll, F.Norm, F.Norm1, F.Absolute, F.Maximum, F.Minimum, F.MaxAll, F.MinAll,
             F.MaxAlong, F.MinAlong, F.ArgMax, F.ArgMin]
    for node in nodes:
        assert hasattr(MatcalcLatexPrinter, f"_print_{node.__name__}"), node


def test_elementwise_functions_print_their_latex_names():
    """The nodes without a method of their own print through their ``latex_name``."""
    X = mc.matrix("X", "n", "m")
    for node in F.Elementwise.__subclasses__():
        if hasattr(MatcalcLatexPrinter, f"_print_{node.__name__}"):
            continue
        assert latex(node(X)) == node.latex_name + "(X)", node


@pytest.mark.parametrize("build, text, tex", [
    (lambda x, y: mc.abs(x), "|x|", r"\left|x\right|"),
    (lambda x, y: mc.maximum(x, y), "max(x, y)", r"\max\left(x, y\right)"),
    (lambda x, y: mc.max(x), "max(x)", r"\max(x)"),
    (lambda x, y: mc.max(x * y.T, 1), "max(x yᵀ, axis=1)", r"\max_{\mathrm{row}}(x y^{\top})"),
    (lambda x, y: mc.norm(x, 1), "‖x‖₁", r"\lVert x\rVert_1"),
    (lambda x, y: mc.gradient(mc.max(x), x), "𝕀ₘₐₓ(x)", r"\mathbb{I}_{\max}(x)"),
    (lambda x, y: mc.gelu(x), "gelu(x)", r"\operatorname{GELU}(x)"),
    (lambda x, y: mc.sin(x), "sin(x)", r"\sin(x)"),
    (lambda x, y: sympy.Rational(851, 500) * x, "1.702 x", "1.702 x"),
    (lambda x, y: sympy.Rational(-8943, 200000) * x, "−0.044715 x", "- 0.044715 x"),
    (lambda x, y: sympy.Rational(1, 2) * x, "(1/2) x", r"\frac{1}{2} x"),
    (lambda x, y: sympy.pi * mc.sum(x), "π·sum(x)", r"\pi \operatorname{sum}(x)"),
])
def test_new_functions_and_constants_print_as_written(build, text, tex):
    x, y = mc.colvec("x", "n"), mc.colvec("y", "n")
    expr = build(x, y)
    assert mc.to_text(expr) == text
    assert latex(expr) == tex


def test_partial_and_shape_helpers():
    assert partial("L", W1) == r"\frac{\partial L}{\partial W_{1}}"
    assert partial("L", X * W1) == r"\frac{\partial L}{\partial (X W_{1})}"
    assert partial("f", x, order=2) == r"\frac{\partial^{2} f}{\partial x \, \partial x^{\top}}"
    assert shape_space((N, K)) == r"\mathbb{R}^{N \times K}"
    assert shape_space(()) == r"\mathbb{R}"


def test_user_text_is_escaped_and_math_characters_become_math():
    assert escape_text("50% of $x & y_1 # {z} ~ ^") == \
        r"50\% of \$x \& y\_1 \# \{z\} \textasciitilde{} \^{}"
    assert escape_text("a\\b") == r"a\textbackslash{}b"
    assert escape_text("σ ⊙ Ŷ") == r"$\sigma$ $\odot$ $\hat{Y}$"
    assert rule_text("chain rule through σ") == r"\text{chain rule through }\sigma"
    assert rule_text("sum of Xᵀ") == r"\text{sum of X}^{\top}"
    assert rule_text("α_1 & #") == r"\alpha\text{\_1 \& \#}"


# ---------------------------------------------------------------- random expressions

_symbols = [mc.matrix("P", 3, 3), mc.matrix("Q", 3, 3), mc.matrix("R1", 3, 3), mc.matrix("Shat", 3, 3)]


def _inverse_or_self(a):
    """Inverse(a), unless SymPy already knows a is singular (ones, zero, …)."""
    from sympy.matrices.exceptions import NonInvertibleMatrixError
    try:
        return a if isinstance(a, Identity) else Inverse(a)
    except NonInvertibleMatrixError:
        return a


@st.composite
def square_expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(_symbols + [Identity(3), OneMatrix(3, 3)]))
    a = draw(square_expressions(depth=depth - 1))
    b = draw(square_expressions(depth=depth - 1))
    kind = draw(st.sampled_from(["add", "sub", "mul", "hadamard", "transpose", "inverse", "scale",
                                 "sigmoid", "softmax", "log", "power"]))
    build = {
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "hadamard": lambda: F.hadamard(a, b), "transpose": lambda: a.T,
        "inverse": lambda: _inverse_or_self(a), "scale": lambda: sympy.Rational(-3, 7) * a,
        "sigmoid": lambda: F.sigmoid(a), "softmax": lambda: F.softmax(a),
        "log": lambda: F.log(a), "power": lambda: F.power(a, 3),
    }[kind]
    from sympy.matrices.exceptions import NonInvertibleMatrixError
    try:
        return build()
    except NonInvertibleMatrixError:  # SymPy evaluated an inverse of a singular matrix
        return a


@settings(max_examples=150, deadline=None)
@given(square_expressions(), st.booleans())
def test_random_expressions_print_as_textbook_latex(expr, bold):
    for whole in (expr, F.trace(expr), F.sum(expr) / 2):
        text = latex(whole, bold_vectors=bold)
        assert _balanced(text), text
        assert text.count(r"\left") == text.count(r"\right"), text
        # No CAS-isms: SymPy's class names, ^{T}, \circ or \mathbb{I} must never leak through.
        assert not re.search(r"\^\{T\}|\\circ|\\mathbb\{I\}|Sigmoid|Softmax|SumAll|HadamardProduct", text), text


def test_kronecker_vec_and_commutation_notation():
    """Magnus & Neudecker's notation: A ⊗ B, vec X, K_{m,n}; sums and products inside a
    Kronecker product are parenthesised, and the printers do no math."""
    from matcalc.core.kronecker import CommutationMatrix, KroneckerProduct, Vec
    P, Q = mc.matrix("P", "n", "n"), mc.matrix("Q", "n", "n")
    kron = KroneckerProduct(Identity(n), P + Q.T)
    assert latex(kron) == r"I_{n} \otimes (P + Q^{\top})"
    assert mc.to_text(kron) == "I ⊗ (P + Qᵀ)"
    product = sympy.MatMul(KroneckerProduct(P * Q, P), CommutationMatrix(n, n))
    assert latex(product) == r"((P Q) \otimes P) K_{n,n}"
    assert mc.to_text(product) == "((P Q) ⊗ P) K₍n,n₎"
    assert latex(Vec(P).T) == r"\operatorname{vec}(P)^{\top}"
    assert mc.to_text(Vec(P).T) == "vec(P)ᵀ"
    assert latex(-KroneckerProduct(P.T, Q)) == r"- (P^{\top} \otimes Q)"


# ---------------------------------------------------------------- symbol names

def test_symbol_names_are_typeset_as_in_text():
    """The rule of matcalc.output.symbols: λ for ``lam`` (SymPy would print l·a·m), ε for
    ``eps``, accents and subscripts combined, several letters upright."""
    lam, eps = mc.scalar("lam"), mc.scalar("eps")
    assert latex(lam * W1.T * x.T) == r"\lambda W_{1}^{\top} x^{\top}"
    assert latex(eps * A) == r"\epsilon A"
    Sigma2, mu_hat1 = mc.matrix("Sigma2", "n", "n"), mc.colvec("mu_hat1", "n")
    assert latex(Inverse(Sigma2) * (v - mu_hat1)) == r"\Sigma_{2}^{-1} (v - \hat{\mu}_{1})"
    assert latex(mc.scalar("lam_k") * mc.matrix("y_hat", "n", "n")) == r"\lambda_{k} \hat{y}"
    assert latex(mc.matrix("loss", 1, 1)) == r"\mathrm{loss}"
    assert latex(mc.colvec("mu_hat1", "n"), bold_vectors=True) == r"\boldsymbol{\hat{\mu}}_{1}"


def test_dimensions_are_typeset_too():
    assert latex(Identity(mc.dim("n1"))) == r"I_{n_{1}}"
    assert shape_space((mc.dim("d1"), K)) == r"\mathbb{R}^{d_{1} \times K}"


def test_names_given_in_latex_stay_as_written():
    for name in (r"\hat{Y}", "Z_{1}", "z^{[1]}", r"v^{(1)}_{out}"):
        assert latex(mc.matrix(name, 2, 2)) == name
    assert latex(mc.matrix("z^{[1]}", 2, 2).T) == r"{z^{[1]}}^{\top}"


def test_two_symbols_never_print_alike_in_latex():
    lam, lam_letter = mc.scalar("lam"), mc.scalar("λ")
    text = latex(lam * A + lam_letter * B)
    assert r"\mathrm{lam} A" in text and r"\lambda B" in text and r"\lambda A" not in text
    assert latex(W1.T * mc.matrix("W_1", "n", "K")) == r"\mathrm{W1}^{\top} \mathrm{W\_1}"
    scalar = mc.scalar("d_1")
    assert latex(scalar * Identity(mc.dim("d1"))) == r"\mathrm{d\_1} I_{\mathrm{d1}}"


def test_a_document_spells_each_name_one_way_throughout():
    """W1 and W_1 in the function: every line of the document writes both literally, also
    the lines where only one of them occurs."""
    W_1 = mc.matrix("W_1", "n", "K")
    d = mc.derive(F.sum(F.hadamard(W1, W_1)), [W1])
    text = mc.to_latex(d, template="fragment")
    assert r"\frac{\partial L}{\partial \mathrm{W1}} &= \mathrm{W\_1}" in text
    assert "W_{1}" not in text
