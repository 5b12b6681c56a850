"""Functions of matrix expressions: the nodes SymPy lacks and the constructors users call.

Elementwise functions (exp, log, tanh, σ, relu, sqrt, the step function) are one class each
over a shared base; softmax and log-sum-exp are row-wise (column-wise for a column vector,
so a textbook vector softmax does what it says); ``sum`` and ``norm`` are scalars.
Trace, determinant, inverse, Hadamard products, ones and identities are SymPy's own.

Each constructor takes a matrix expression and checks its shape; on a plain scalar
the elementwise ones fall back to SymPy's scalar function.
"""
from __future__ import annotations

import sympy
from sympy import Basic, Integer, Max, Heaviside
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatrixExpr, OneMatrix, Trace,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower

from ..errors import ShapeError
from .shapes import cached_shape, check_same_shape, shape_text
from .symbols import dim


# ---------------------------------------------------------------- elementwise nodes

class _OfOneMatrix:
    """Mixin of nodes with a single matrix argument ``arg``."""

    def __new__(cls, arg):
        arg = _sympify(arg)
        if not isinstance(arg, MatrixExpr):
            raise TypeError(f"{cls.__name__} takes a matrix expression, got {arg!r}")
        return Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        return type(self)(arg)


class Elementwise(_OfOneMatrix, MatrixExpr):
    """Base of f(X) applied entry by entry; subclasses set ``scalar`` and ``latex_name``."""

    latex_name = ""

    @cached_shape
    def shape(self):
        return self.arg.shape

    @staticmethod
    def scalar(x):
        raise NotImplementedError

    def _entry(self, i, j, **kwargs):
        return self.scalar(self.arg._entry(i, j, **kwargs))


class Exp(Elementwise):
    """exp(X), entry by entry."""
    latex_name = r"\exp"
    scalar = staticmethod(sympy.exp)


class Log(Elementwise):
    """log(X), entry by entry (natural logarithm)."""
    latex_name = r"\log"
    scalar = staticmethod(sympy.log)


class Tanh(Elementwise):
    """tanh(X), entry by entry."""
    latex_name = r"\tanh"
    scalar = staticmethod(sympy.tanh)


class Sigmoid(Elementwise):
    """σ(X) = 1 / (1 + exp(−X)), entry by entry."""
    latex_name = r"\sigma"

    @staticmethod
    def scalar(x):
        return 1 / (1 + sympy.exp(-x))


class Relu(Elementwise):
    """relu(X) = max(X, 0), entry by entry."""
    latex_name = r"\operatorname{relu}"

    @staticmethod
    def scalar(x):
        return Max(x, 0)


class Step(Elementwise):
    """The unit step 1[X > 0], entry by entry: the derivative of relu (0 at 0, by choice)."""
    latex_name = r"\operatorname{step}"

    @staticmethod
    def scalar(x):
        return Heaviside(x, 0)


class Sqrt(Elementwise):
    """√X, entry by entry."""
    latex_name = r"\sqrt"
    scalar = staticmethod(sympy.sqrt)


# ---------------------------------------------------------------- row-wise nodes

class _AlongAxis(MatrixExpr):
    """Base of softmax and log-sum-exp: ``axis=1`` works within each row (the default),
    ``axis=0`` within each column (chosen automatically for a column vector)."""

    def __new__(cls, arg, axis=None):
        arg = _sympify(arg)
        if not isinstance(arg, MatrixExpr):
            raise TypeError(f"{cls.__name__} takes a matrix expression, got {arg!r}")
        if axis is None:
            axis = 0 if (arg.shape[1] == 1 and arg.shape[0] != 1) else 1
        axis = int(axis)
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {axis}")
        return Basic.__new__(cls, arg, Integer(axis))

    @property
    def arg(self):
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    def _along(self, i, j):
        """Indices (i', j') running over the reduced axis for entry (i, j)."""
        k = sympy.Dummy("k", integer=True)
        if self.axis == 1:
            return k, (i, k), (0, self.arg.shape[1] - 1)
        return k, (k, j), (0, self.arg.shape[0] - 1)

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        return type(self)(arg, self.axis)


class Softmax(_AlongAxis):
    """softmax(Z): exp(Z) normalised to sum to 1 along each row (each column for axis=0)."""
    latex_name = r"\operatorname{softmax}"

    @cached_shape
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        k, (a, b), (lo, hi) = self._along(i, j)
        return sympy.exp(self.arg._entry(i, j)) / sympy.Sum(sympy.exp(self.arg._entry(a, b)), (k, lo, hi))


class LogSumExp(_AlongAxis):
    """logsumexp(Z): log Σ exp along each row (N×1), or along the column (1×1) of a column vector."""
    latex_name = r"\operatorname{logsumexp}"

    @cached_shape
    def shape(self):
        rows, cols = self.arg.shape
        return (rows, Integer(1)) if self.axis == 1 else (Integer(1), cols)

    def _entry(self, i, j, **kwargs):
        k, (a, b), (lo, hi) = self._along(i, j)
        return sympy.log(sympy.Sum(sympy.exp(self.arg._entry(a, b)), (k, lo, hi)))


# ---------------------------------------------------------------- scalar nodes

class _ScalarOfMatrix(_OfOneMatrix, sympy.Expr):
    """A scalar computed from one matrix expression."""
    is_commutative = True
    is_real = True


class SumAll(_ScalarOfMatrix):
    """sum(X) = 1ᵀX1, the sum of all entries."""

    def _eval_explicit(self):
        m = self.arg.as_explicit()
        return sum(m[i, j] for i in range(m.rows) for j in range(m.cols))


class Norm(_ScalarOfMatrix):
    """‖X‖ = √(Σ x_ij²): the Euclidean norm of a vector, the Frobenius norm of a matrix."""
    is_nonnegative = True


# ---------------------------------------------------------------- constructors

def _is_matrix(x) -> bool:
    return isinstance(x, MatrixExpr)


def _elementwise(node, scalar_function):
    def apply(x):
        x = _sympify(x)
        if _is_matrix(x):
            return node(x)
        if x.is_number:
            return scalar_function(x)
        # SymPy's automatic evaluation of tanh, Max, sqrt … rewrites (and on det(3R),
        # crashes on) arguments that hold matrix expressions: build the node as written.
        with sympy.evaluate(False):
            return scalar_function(x)
    apply.__name__ = node.__name__.lower()
    apply.__doc__ = (f"{node.__doc__}\n\nOn a scalar expression this is the scalar function.")
    return apply


exp = _elementwise(Exp, sympy.exp)
log = _elementwise(Log, sympy.log)
tanh = _elementwise(Tanh, sympy.tanh)
sigmoid = _elementwise(Sigmoid, Sigmoid.scalar)
relu = _elementwise(Relu, Relu.scalar)
sqrt = _elementwise(Sqrt, sympy.sqrt)
step = _elementwise(Step, Step.scalar)


def _require_square(X, what):
    if not _is_matrix(X):
        raise TypeError(f"{what} takes a matrix expression, got {X!r}")
    if X.shape[0] != X.shape[1]:
        raise ShapeError(f"{what} needs a square matrix, got {shape_text(X)}")


def trace(X):
    """tr(X), the sum of the diagonal of a square matrix."""
    _require_square(X, "trace")
    return Trace(X)


def det(X):
    """det(X) of a square matrix."""
    _require_square(X, "det")
    return Determinant(X)


def logdet(X):
    """log det(X) of a square matrix (with positive determinant)."""
    _require_square(X, "logdet")
    return sympy.log(Determinant(X))


def inv(X):
    """X⁻¹ of a square matrix."""
    _require_square(X, "inv")
    return Inverse(X)


def softmax(Z, axis=None):
    """Row-wise softmax (within each column for a column vector, or with ``axis=0``)."""
    return Softmax(Z, axis)


def logsumexp(Z, axis=None):
    """Row-wise log Σ exp: N×1 for an N×K matrix, 1×1 for a row or a column vector."""
    return LogSumExp(Z, axis)


def sum(X):  # noqa: A001 - the name users expect, as in NumPy
    """The sum of all entries of X, a scalar."""
    if not _is_matrix(X):
        raise TypeError(f"sum takes a matrix expression, got {X!r}")
    return SumAll(X)


def mean(X):
    """The mean of all entries of X, a scalar."""
    if not _is_matrix(X):
        raise TypeError(f"mean takes a matrix expression, got {X!r}")
    rows, cols = X.shape
    return SumAll(X) / (rows * cols)


def norm(X):
    """‖X‖: the 2-norm of a vector, the Frobenius norm of a matrix."""
    if not _is_matrix(X):
        raise TypeError(f"norm takes a matrix expression, got {X!r}")
    return Norm(X)


def hadamard(*factors):
    """A ⊙ B ⊙ …, the entrywise product of same-shaped matrices."""
    if len(factors) < 2:
        raise TypeError("hadamard needs at least two matrices")
    check_same_shape(*factors, operation="multiply elementwise")
    return HadamardProduct(*factors)


def power(X, p):
    """X ∘ p, every entry raised to the number or scalar expression p (``mc.scalar("p")``)."""
    return HadamardPower(X, _sympify(p))


def ones(rows, cols):
    """The rows×cols matrix of ones (1 in textbooks; 1 1ᵀ for an outer product of ones)."""
    return OneMatrix(dim(rows), dim(cols))


def eye(n):
    """The n×n identity I_n."""
    return Identity(dim(n))


def diag(v):
    """diag(v): the square matrix with the vector v on its diagonal."""
    if not _is_matrix(v) or (v.shape[0] != 1 and v.shape[1] != 1):
        raise ShapeError(f"diag takes a row or column vector, got {shape_text(v) if _is_matrix(v) else v!r}")
    return DiagMatrix(v)
