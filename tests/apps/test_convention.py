"""matrixcalculus.org's naming convention (matcalc.apps.convention): a–g scalars, h–z column
vectors, A–Z matrices, dimensions inferred.

The expected shapes are written by hand from the expressions; each proposal is then handed
to matcalc.parse, which must accept the text with it (the proposal is only useful if it
type-checks) and give the shape the mathematics says.
"""
import pytest

import matcalc as mc
from matcalc.apps.convention import kind_of, propose_declarations


def parses_to(text, shapes, expected_shape):
    expression = mc.parse(text, shapes)
    shape = getattr(expression, "shape", ())
    assert tuple(str(d) for d in shape) == tuple(str(d) for d in expected_shape)


@pytest.mark.parametrize("name, kind", [("a", "scalar"), ("g2", "scalar"), ("h", "vector"), ("x_1", "vector"),
                                        ("z", "vector"), ("A", "matrix"), ("W1", "matrix"), ("Z", "matrix"),
                                        ("λ", None), ("_x", None)])
def test_the_first_letter_says_what_a_name_is(name, kind):
    assert kind_of(name) == kind


def test_a_quadratic_form_needs_nothing_declared():
    proposal = propose_declarations("x.T @ A @ x")
    assert proposal == {"x": ("n", 1), "A": ("n", "n")}
    parses_to("x.T @ A @ x", proposal, (1, 1))


@pytest.mark.parametrize("text, expected, shape", [
    # Xw − y: X's columns meet w's rows, X's rows meet y's
    ("norm(X @ w - y)**2", {"X": ("n", "m"), "w": ("m", 1), "y": ("n", 1)}, ()),
    # tr(AX) needs AX square: A n×m, X m×n
    ("trace(A @ X)", {"A": ("n", "m"), "X": ("m", "n")}, ()),
    # a chain of products, and D the shape of the product
    ("A @ B @ C - D", {"A": ("n", "m"), "B": ("m", "p"), "C": ("p", "q"), "D": ("n", "q")}, ("n", "q")),
    # a, b, c are scalars, so c xᵀx + b is a scalar
    ("c * x.T @ x + b", {"c": (), "x": ("n", 1), "b": ()}, (1, 1)),
    # det and inv make their argument square
    ("log(det(B)) + sum(exp(A))", {"B": ("n", "n"), "A": ("m", "p")}, ()),
    ("inv(A) @ x + y", {"A": ("n", "n"), "x": ("n", 1), "y": ("n", 1)}, ("n", 1)),
    # a column vector broadcasts over a matrix's columns: A + k needs only the rows equal
    ("tanh(A + k) @ h", {"A": ("n", "m"), "k": ("n", 1), "h": ("m", 1)}, ("n", 1)),
    # summing down the columns (axis 0) leaves a 1×m row, which meets v's m rows
    ("sum(X, axis=0) @ v", {"X": ("n", "m"), "v": ("m", 1)}, (1, 1)),
])
def test_dimensions_are_inferred_from_the_operations(text, expected, shape):
    proposal = propose_declarations(text)
    assert proposal == expected
    parses_to(text, proposal, shape)


def test_declarations_are_kept_and_their_dimensions_join_in():
    assert propose_declarations("x.T @ A @ x", {"x": ("d", 1)}) == {"A": ("d", "d")}
    assert propose_declarations("x.T @ A @ w", {"A": (3, 4)}) == {"x": (3, 1), "w": (4, 1)}
    # a declared scalar and a declared matrix are not proposed again
    assert propose_declarations("lam * norm(x)**2 + trace(S)", {"lam": (), "S": ("k", "k")}) == {"x": ("n", 1)}


def test_symmetric_and_spd_matrices_are_square():
    assert propose_declarations("sum(A)", square=["A"]) == {"A": ("n", "n")}
    # without the assumption a sum of entries says nothing of A's shape
    assert propose_declarations("sum(A)") == {"A": ("n", "m")}


def test_inferred_names_avoid_every_name_of_the_text():
    # n, m and p are vectors here, so the dimensions are named q, k, r
    proposal = propose_declarations("n.T @ M @ m + p.T @ p")
    assert proposal == {"n": ("q", 1), "M": ("q", "k"), "m": ("k", 1), "p": ("r", 1)}
    parses_to("n.T @ M @ m + p.T @ p", proposal, (1, 1))


def test_dimensions_given_to_ones_and_eye_are_dimensions():
    assert propose_declarations("ones(k, 1).T @ x") == {"x": ("k", 1)}
    assert propose_declarations("eye(n) @ x") == {"x": ("n", 1)}
    assert propose_declarations("X @ w + ones(N, 1) * b") == {"X": ("N", "n"), "w": ("n", 1), "b": ()}


def test_constants_and_unknown_names_are_left_alone():
    assert propose_declarations("e * pi * x.T @ x") == {"x": ("n", 1)}
    with pytest.raises(mc.ParseError, match="unknown name 'λ'"):
        mc.parse("λ * x.T @ x", propose_declarations("λ * x.T @ x"))


def test_a_vector_never_becomes_a_number_of_rows_of_one():
    """x @ A has no meaning with x a column: the proposal keeps A a matrix, and the parser
    reports the mistake at the '@' (rather than reading A as a 1×m row)."""
    proposal = propose_declarations("x @ A")
    assert proposal == {"x": ("n", 1), "A": ("m", "p")}
    with pytest.raises(mc.ShapeError) as error:
        mc.parse("x @ A", proposal)
    assert error.value.column == 3


def test_text_the_tokenizer_refuses_is_its_parse_error():
    with pytest.raises(mc.ParseError) as error:
        propose_declarations("x.T @ $ A")
    assert error.value.column == 7
