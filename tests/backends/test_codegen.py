"""The code generator's value model: what a value *is* (a symbol, a number, a constant
matrix stored as one number, a collapsed axis) is known from the expression, never guessed
from the text of the generated code.  Each value is checked against tests/numeric.py's
independent interpreter, or NumPy written out by hand."""
import numpy as np
import pytest
from sympy.matrices.expressions import HadamardProduct, Identity, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower

import matcalc as mc
from numeric import check_compiled

n = mc.dim("n")


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


_check = check_compiled


# ---------------------------------------------------------------- symbols that look like numbers

@pytest.mark.parametrize("name", ["e", "e1", "e2", "ee", "E", "e10", "inf", "nan"])
def test_a_symbol_named_like_a_number_is_its_value(name, rng):
    e_row = np.array([[1.0, 2.0, 3.0]])
    total = mc.compile(mc.parse(f"sum({name})", {name: (1, "n")}))
    assert total(**{name: e_row}) == 6.0
    column = mc.compile(mc.parse(f"{name}.T", {name: (1, "n")}))
    assert column(**{name: e_row}).shape == (3, 1)
    # sum(A @ e) with respect to A is 1 eᵀ: every row holds the row sums of e
    A, e = mc.matrix("A", "m", "n"), mc.matrix(name, "n", "k")
    gradient = mc.gradient(mc.sum(A * e), A)
    ev = rng.normal(size=(3, 4))
    got = mc.compile(gradient)(**{name: ev}, m=2)
    np.testing.assert_allclose(got, np.ones((2, 4)) @ ev.T)


# ---------------------------------------------------------------- constants stored as one number

CONSTANT_CASES = [
    ("trace(ones(1, 1) ** 3)", {}),
    ("sum(ones(1, 1) ** 3 * a)", {"a": (2, 2)}),
    ("mean(ones(n, n) ** 3)", {"x": ("n", 1)}),
    ("sum(softmax(relu(eye(1))))", {}),
    ("logsumexp(tanh(eye(1)))", {}),
    ("softmax(exp(ones(1, 1)) * 2, axis=0)", {}),
    ("sum(sigmoid(ones(n, n) ** 2) @ x)", {"x": ("n", 1)}),
    ("sum(log(1 - sigmoid(ones(n, 1))) * x)", {"x": ("n", 1)}),
    ("norm(sqrt(ones(n, n) * 4) - 1)", {"x": ("n", 1)}),
    ("trace(ones(n, n) ** 2 @ ones(n, n))", {"x": ("n", 1)}),
    ("det(exp(eye(1)))", {}),
    ("sum(softmax(ones(n, 1) ** 2) * x)", {"x": ("n", 1)}),
    ("x.T @ (ones(n, 1) ** 3) @ (ones(1, 1) ** 2)", {"x": ("n", 1)}),
]


@pytest.mark.parametrize("text, shapes", CONSTANT_CASES)
def test_constant_matrices_stored_as_a_number_expand_where_needed(text, shapes, rng):
    expr = mc.parse(text, shapes)
    values = {"a": rng.normal(size=(2, 2)), "x": rng.normal(size=(3, 1))}
    _check(expr, values, {n: 3})


def test_constant_matrix_results_have_their_declared_shape():
    for expr in [HadamardPower(OneMatrix(n, 2), 3), mc.exp(Identity(1)), mc.relu(-OneMatrix(1, n)),
                 HadamardProduct(mc.exp(OneMatrix(n, 1)), OneMatrix(n, 1)) * OneMatrix(1, 2),
                 mc.sigmoid(ZeroMatrix(2, n)).T, mc.exp(OneMatrix(n, 1)) * mc.exp(OneMatrix(1, n))]:
        _check(expr, {}, {n: 3})   # the shape is checked against the interpreter's


# ---------------------------------------------------------------- layouts of diagonal scalings

def test_diagonal_scalings_keep_exact_layouts(rng):
    """diag(v) B and A diag(v) with collapsed operands: the result is stored as its flags say."""
    v, r, c = mc.colvec("v", "n"), mc.rowvec("r", "n"), mc.colvec("c", "m")
    m = mc.dim("m")
    values = {"v": rng.normal(size=(3, 1)), "r": rng.normal(size=(1, 3)), "c": rng.normal(size=(2, 1))}
    for expr in [mc.diag(v) * OneMatrix(n, m), c * OneMatrix(1, n) * DiagMatrix(OneMatrix(n, 1)),
                 OneMatrix(m, n) * mc.diag(r), mc.diag(OneMatrix(n, 1)) * (OneMatrix(n, 1) * r),
                 (c * OneMatrix(1, n)) * mc.diag(r) * OneMatrix(n, m)]:
        _check(expr, values, {n: 3, m: 2})
