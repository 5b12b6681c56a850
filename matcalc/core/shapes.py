"""Strict shape checking for SymPy's matrix arithmetic.

SymPy only rejects a product or sum when the shapes are *provably* different, so
``x (1×n) * A (m×m)`` passes silently with symbolic ``n`` and ``m``.  matcalc treats two
dimensions as equal only when they are the same expression, which is what a person means
by naming them differently.  Importing matcalc swaps SymPy's validators for these (they
raise :class:`matcalc.ShapeError`, a subclass of SymPy's own ``ShapeError``, so SymPy code
that catches its error keeps working).
"""
from sympy.matrices.expressions import diagonal, hadamard, inverse, matadd, matmul, matpow, transpose
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import ShapeError
from .memo import remembering


WRITE = [str]
"""How error messages write an expression: ``str`` until :mod:`matcalc.output` installs its
text printer (``x (A + Aᵀ)``, not SymPy's ``x*(A + A.T)``); the core never imports it."""


def shape_text(expr) -> str:
    """``expr (m×n)``, for an error message."""
    try:
        text = WRITE[0](expr)
    except Exception:   # noqa: BLE001 - a message must not fail on the expression it reports
        text = str(expr)
    if _spaced(text):
        text = f"({text})"   # (σ(X w) − y) (n×1): the shape is the whole expression's
    return f"{text} ({'×'.join(str(s) for s in expr.shape)})"


def _spaced(text) -> bool:
    """Whether ``text`` has a space outside brackets (``σ(X w) − y``, not ``log(X w)``)."""
    depth = 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if char == " " and depth == 0:
            return True
    return False


def check_product(*operands):
    """Raise ShapeError unless every adjacent pair of matrices can be multiplied."""
    matrices = [m for m in operands if isinstance(m, MatrixExpr)]
    for left, right in zip(matrices, matrices[1:]):
        if left.shape[1] != right.shape[0]:
            raise ShapeError(
                f"cannot multiply {shape_text(left)} by {shape_text(right)}: "
                f"{left.shape[1]} columns against {right.shape[0]} rows")


def check_same_shape(*operands, operation="add"):
    """Raise ShapeError unless every operand has the same shape."""
    first = operands[0]
    for other in operands[1:]:
        if other.shape != first.shape:
            raise ShapeError(f"cannot {operation} {shape_text(first)} and {shape_text(other)}: shapes differ")


def _check_hadamard(*operands):
    if len(operands) == 2 and not isinstance(operands[1], MatrixExpr):
        return  # HadamardPower(base, exponent)
    check_same_shape(*operands, operation="multiply elementwise")


_SHAPES: dict = {}
_SHAPES_LIMIT = 500_000


def cached_shape(getter):
    """A ``shape`` property remembered per node.  SymPy recomputes a product's shape from
    its factors' shapes at every call, so asking a deep expression for its shape costs its
    depth each time (and 2^depth for ``c*(A*(c*(A*…)))``); nodes are immutable, so the
    answer can be kept."""
    shape = remembering(getter, _SHAPES, _SHAPES_LIMIT)
    return property(shape)


def install():
    """Make SymPy's MatMul, MatAdd and HadamardProduct check shapes strictly, and remember
    the shapes of its composite matrix nodes."""
    matmul.validate = check_product
    matadd.validate = check_same_shape
    hadamard.validate = _check_hadamard
    for cls in (matmul.MatMul, matadd.MatAdd, hadamard.HadamardProduct, hadamard.HadamardPower,
                transpose.Transpose, matpow.MatPow, inverse.Inverse, diagonal.DiagMatrix,
                diagonal.DiagonalOf):
        if not getattr(cls.__dict__["shape"].fget, "_matcalc_cached", False):
            prop = cached_shape(cls.__dict__["shape"].fget)
            prop.fget._matcalc_cached = True
            cls.shape = prop


install()
