"""Bad input gets a clear error that names what is wrong, never a wrong answer."""
import pytest
import sympy
from sympy.matrices.expressions import KroneckerProduct, MatrixSymbol

import matcalc as mc


def test_shape_mismatch_in_product_names_both_operands():
    x, A = mc.rowvec("x", "n"), mc.matrix("A", "m", "m")
    with pytest.raises(mc.ShapeError) as err:
        x * A
    message = str(err.value)
    assert "x (1×n)" in message and "A (m×m)" in message


def test_shape_mismatch_in_sum_and_hadamard():
    A, B = mc.matrix("A", "n", "m"), mc.matrix("B", "m", "n")
    with pytest.raises(mc.ShapeError, match=r"A \(n×m\).*B \(m×n\)"):
        A + B
    with pytest.raises(mc.ShapeError, match="elementwise"):
        mc.hadamard(A, B)


def test_shape_error_is_also_sympys():
    from sympy.matrices.exceptions import ShapeError as SympyShapeError
    with pytest.raises(SympyShapeError):
        mc.matrix("A", 2, 3) * mc.matrix("B", 2, 3)


@pytest.mark.parametrize("build", [mc.trace, mc.det, mc.inv, mc.logdet])
def test_square_only_functions(build):
    with pytest.raises(mc.ShapeError, match="square"):
        build(mc.matrix("A", "n", "m"))


def test_gradient_of_non_scalar():
    x, A = mc.colvec("x", "n"), mc.matrix("A", "m", "n")
    with pytest.raises(mc.DifferentiationError, match="scalar.*m×1.*jacobian"):
        mc.gradient(A * x, x)


def test_wrt_must_be_a_symbol():
    x, A = mc.colvec("x", "n"), mc.matrix("A", "n", "n")
    f = x.T * A * x
    with pytest.raises(mc.DifferentiationError, match="matrix symbol.*MatMul"):
        mc.gradient(f, A * x)
    with pytest.raises(mc.DifferentiationError, match="Transpose"):
        mc.gradient(f, x.T)


def test_wrt_with_the_same_name_but_another_shape():
    x = mc.colvec("x", "n")
    other = mc.colvec("x", "m")
    with pytest.raises(mc.DifferentiationError, match="different symbol named x"):
        mc.gradient(x.T * x, other)


def test_construct_without_rule_is_named():
    A, B = mc.matrix("A", 2, 2), mc.matrix("B", 2, 2)
    f = mc.sum(KroneckerProduct(A, B))
    with pytest.raises(mc.DifferentiationError, match="KroneckerProduct"):
        mc.gradient(f, A)


def test_unknown_scalar_function_is_named():
    x = mc.colvec("x", "n")
    f = sympy.Function("mystery")(mc.sum(x))
    with pytest.raises(mc.DifferentiationError, match="mystery"):
        mc.gradient(f, x)


def test_a_differential_without_a_matrix_form_is_named():
    """Matrix Jacobians are read off in the vec layout; a node the reader has no vec
    identity for is refused by name (softmax(dX) stands for any such node)."""
    from matcalc.calculus.vectorize import read_jacobian
    dX = mc.matrix("dX", "n", "m")
    with pytest.raises(mc.DifferentiationError, match="vec of a Softmax has no matrix form"):
        read_jacobian(mc.softmax(dX), dX)


def test_bad_layout_and_kind():
    x = mc.colvec("x", "n")
    with pytest.raises(ValueError, match="layout"):
        mc.jacobian(x, x, layout="sideways")
    with pytest.raises(ValueError, match="kind"):
        mc.derive(x.T * x, x, kind="integral")


def test_bad_dimensions_and_assumptions():
    with pytest.raises(mc.ShapeError):
        mc.matrix("A", 0, 3)
    with pytest.raises(ValueError, match="identifier"):
        mc.matrix("A", "n m", 3)
    with pytest.raises(mc.ShapeError, match="symmetric"):
        mc.matrix("S", "n", "m", symmetric=True)


def test_symmetric_symbol_differs_from_plain():
    plain, sym = mc.matrix("A", "n", "n"), mc.matrix("A", "n", "n", symmetric=True)
    assert plain != sym
    assert sym.T == sym and plain.T != plain


def test_plain_sympy_matrix_symbols_work_too():
    x, A = MatrixSymbol("x", 3, 1), MatrixSymbol("A", 3, 3)
    assert mc.gradient(x.T * A * x, x) == mc.simplify((A + A.T) * x)


def test_text_is_never_evaluated():
    """Text goes through mc.parse; the API never hands a string to SymPy's sympify."""
    x = mc.colvec("x", "n")
    with pytest.raises(TypeError, match="mc.parse"):
        mc.derive("__import__('os').getcwd()", x)
    from matcalc.core.symbols import MatrixSymbol as Symbol
    with pytest.raises(sympy.SympifyError):
        Symbol("A", "__import__('os').getcwd()", 2)


def test_shape_errors_write_expressions_in_matcalc_notation():
    import matcalc as mc
    X, Y, W = mc.matrix("X", "N", "d"), mc.matrix("Y", "N", "K"), mc.matrix("W1", "d", "h")
    with pytest.raises(mc.ShapeError) as caught:
        mc.hadamard(Y, mc.log(mc.sigmoid(X * W)))
    message = str(caught.value)
    assert "log(σ(X W₁)) (N×h)" in message and "and log(" in message
    assert "Log(" not in message and "Sigmoid" not in message and "*" not in message
