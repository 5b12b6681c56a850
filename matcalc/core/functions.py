"""Functions of matrix expressions: the nodes SymPy lacks and the constructors users call.

Elementwise functions (exp, log, tanh, σ, relu, sqrt, the step function) are one class each
over a shared base; softmax and log-sum-exp are row-wise (column-wise for a column vector,
so a textbook vector softmax does what it says); ``sum`` and ``norm`` are scalars.
Trace, determinant, inverse, Hadamard products, ones and identities are SymPy's own.

Each constructor takes a matrix expression and checks its shape; on a plain scalar
the elementwise ones fall back to SymPy's scalar function.
"""
from __future__ import annotations

import builtins

import sympy
from sympy import Basic, Integer, Max, Heaviside
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatrixExpr, OneMatrix, Trace, ZeroMatrix,
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


def _function(name, scalar, doc, latex_name=None):
    """An elementwise node class whose scalar function is SymPy's ``scalar``."""
    return type(name, (Elementwise,), {
        "__doc__": doc, "__module__": __name__, "scalar": staticmethod(scalar),
        "latex_name": latex_name or r"\operatorname{%s}" % name.lower()})


Sin = _function("Sin", sympy.sin, "sin(X), entry by entry.", r"\sin")
Cos = _function("Cos", sympy.cos, "cos(X), entry by entry.", r"\cos")
Tan = _function("Tan", sympy.tan, "tan(X), entry by entry.", r"\tan")
Arcsin = _function("Arcsin", sympy.asin, "arcsin(X), entry by entry (entries in [−1, 1]).", r"\arcsin")
Arccos = _function("Arccos", sympy.acos, "arccos(X), entry by entry (entries in [−1, 1]).", r"\arccos")
Arctan = _function("Arctan", sympy.atan, "arctan(X), entry by entry.", r"\arctan")
Sinh = _function("Sinh", sympy.sinh, "sinh(X), entry by entry.", r"\sinh")
Cosh = _function("Cosh", sympy.cosh, "cosh(X), entry by entry.", r"\cosh")
Erf = _function("Erf", sympy.erf, "erf(X), the error function, entry by entry.", r"\operatorname{erf}")


class Absolute(Elementwise):
    """|X|, entry by entry.  Its derivative is sign(X): 0 at the kink x = 0, by choice
    (as relu′(0) = 0, and as PyTorch; JAX takes 1 there)."""
    latex_name = r"\lvert\cdot\rvert"
    scalar = staticmethod(sympy.Abs)


class Sign(Elementwise):
    """sign(X) ∈ {−1, 0, 1}, entry by entry: flat away from 0, so its derivative is 0
    (and matcalc takes 0 at the jump too)."""
    latex_name = r"\operatorname{sign}"
    scalar = staticmethod(sympy.sign)


class Softplus(Elementwise):
    """softplus(X) = log(1 + exp(X)), entry by entry (the smooth relu; its derivative is σ)."""
    latex_name = r"\operatorname{softplus}"

    @staticmethod
    def scalar(x):
        return sympy.log(1 + sympy.exp(x))


class Log1p(Elementwise):
    """log(1 + X), entry by entry, accurate for small entries."""
    latex_name = r"\operatorname{log1p}"

    @staticmethod
    def scalar(x):
        return sympy.log(1 + x)


class Expm1(Elementwise):
    """exp(X) − 1, entry by entry, accurate for small entries."""
    latex_name = r"\operatorname{expm1}"

    @staticmethod
    def scalar(x):
        return sympy.exp(x) - 1


class NormalCdf(Elementwise):
    """Φ(X) = (1 + erf(X/√2))/2, the standard normal distribution function, entry by entry."""
    latex_name = r"\Phi"

    @staticmethod
    def scalar(x):
        return (1 + sympy.erf(x / sympy.sqrt(2))) / 2


class Gelu(Elementwise):
    """gelu(X) = X ⊙ Φ(X), the Gaussian error linear unit (the exact form, PyTorch's
    default), entry by entry.  Its derivative is Φ(X) + X ⊙ φ(X)."""
    latex_name = r"\operatorname{GELU}"

    @staticmethod
    def scalar(x):
        return x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2


class _OfTwoMatrices(MatrixExpr):
    """Base of f(A, B) entry by entry, for two matrices of one shape."""

    def __new__(cls, a, b):
        a, b = _sympify(a), _sympify(b)
        if not (isinstance(a, MatrixExpr) and isinstance(b, MatrixExpr)):
            raise TypeError(f"{cls.__name__} takes two matrix expressions, got {a!r} and {b!r}")
        check_same_shape(a, b, operation=f"take the {cls.__name__.lower()} of")
        return Basic.__new__(cls, a, b)

    @cached_shape
    def shape(self):
        return self.args[0].shape

    def _entry(self, i, j, **kwargs):
        return self.scalar(self.args[0]._entry(i, j, **kwargs), self.args[1]._entry(i, j, **kwargs))

    def doit(self, **hints):
        return self


class Maximum(_OfTwoMatrices):
    """maximum(A, B), the larger entry of A and B at each position (NumPy's ``np.maximum``).
    At a tie the derivative is shared: ½ to each argument (as JAX's ``jnp.maximum``)."""
    extreme = "max"
    latex_name = r"\max"

    @staticmethod
    def scalar(a, b):
        return Max(a, b)


class Minimum(_OfTwoMatrices):
    """minimum(A, B), the smaller entry of A and B at each position (NumPy's ``np.minimum``).
    At a tie the derivative is shared: ½ to each argument."""
    extreme = "min"
    latex_name = r"\min"

    @staticmethod
    def scalar(a, b):
        return sympy.Min(a, b)


# ---------------------------------------------------------------- row-wise nodes

class _AlongAxis(MatrixExpr):
    """Base of softmax and log-sum-exp: ``axis=1`` works within each row (the default),
    ``axis=0`` within each column (chosen automatically for a column vector)."""

    AXES = (0, 1)

    def __new__(cls, arg, axis=None):
        arg = _sympify(arg)
        if not isinstance(arg, MatrixExpr):
            raise TypeError(f"{cls.__name__} takes a matrix expression, got {arg!r}")
        if axis is None:
            axis = 0 if (arg.shape[1] == 1 and arg.shape[0] != 1) else 1
        axis = int(axis)
        if axis not in cls.AXES:
            raise ValueError(f"axis must be one of {cls.AXES}, got {axis}")
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


class _Reduced(_AlongAxis):
    """Base of the largest/smallest entry along an axis (NumPy's ``X.max(axis, keepdims=True)``):
    N×1 along the rows (axis 1), 1×M down the columns (axis 0)."""

    @cached_shape
    def shape(self):
        rows, cols = self.arg.shape
        return (rows, Integer(1)) if self.axis == 1 else (Integer(1), cols)


class MaxAlong(_Reduced):
    """max(X, axis): the largest entry of each row (axis 1) or column (axis 0)."""
    extreme = "max"
    latex_name = r"\max"


class MinAlong(_Reduced):
    """min(X, axis): the smallest entry of each row (axis 1) or column (axis 0)."""
    extreme = "min"
    latex_name = r"\min"


class ArgMax(_AlongAxis):
    """The indicator of where the maximum is, X's shape: within each row (axis 1), each
    column (axis 0) or over all entries (axis −1).  Tied maxima share the weight equally
    (so the entries of each group sum to 1): the derivative of max, with JAX's convention."""
    extreme = "max"
    AXES = (0, 1, -1)
    latex_name = r"\operatorname{argmax}"

    @cached_shape
    def shape(self):
        return self.arg.shape


class ArgMin(ArgMax):
    """The indicator of where the minimum is (see :class:`ArgMax`)."""
    extreme = "min"
    latex_name = r"\operatorname{argmin}"


# ---------------------------------------------------------------- scalar nodes

class _ScalarOfMatrix(_OfOneMatrix, sympy.Expr):
    """A scalar computed from one matrix expression."""
    is_commutative = True
    is_real = True


class SumAll(_ScalarOfMatrix):
    """sum(X) = 1ᵀX1, the sum of all entries."""

    def _eval_explicit(self):
        m = self.arg.as_explicit()
        return builtins.sum(m[i, j] for i in range(m.rows) for j in range(m.cols))


class Norm(_ScalarOfMatrix):
    """‖X‖ = √(Σ x_ij²): the Euclidean norm of a vector, the Frobenius norm of a matrix."""
    is_nonnegative = True


class Norm1(_ScalarOfMatrix):
    """‖X‖₁ = Σ |x_ij|: the 1-norm of a vector, the entrywise 1-norm of a matrix."""
    is_nonnegative = True


class MaxAll(_ScalarOfMatrix):
    """max(X), the largest entry."""
    extreme = "max"


class MinAll(_ScalarOfMatrix):
    """min(X), the smallest entry."""
    extreme = "min"


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
_log = _elementwise(Log, sympy.log)


def log(x):
    """log(X), entry by entry (natural logarithm).

    On a scalar this is the scalar function, except that log(sum(exp(X))) is written as the
    log-sum-exp of every entry (logsumexp of a vector; of the row log-sum-exps for a
    matrix), which is computed without overflow and differentiates to a softmax."""
    x = _sympify(x)
    if isinstance(x, SumAll) and isinstance(x.arg, Exp):
        X = x.arg.arg
        inner = X if 1 in X.shape else LogSumExp(X, 1)
        return SumAll(LogSumExp(inner))
    return _log(x)
tanh = _elementwise(Tanh, sympy.tanh)
sigmoid = _elementwise(Sigmoid, Sigmoid.scalar)
relu = _elementwise(Relu, Relu.scalar)
sqrt = _elementwise(Sqrt, sympy.sqrt)
step = _elementwise(Step, Step.scalar)
sin = _elementwise(Sin, sympy.sin)
cos = _elementwise(Cos, sympy.cos)
tan = _elementwise(Tan, sympy.tan)
arcsin = _elementwise(Arcsin, sympy.asin)
arccos = _elementwise(Arccos, sympy.acos)
arctan = _elementwise(Arctan, sympy.atan)
sinh = _elementwise(Sinh, sympy.sinh)
cosh = _elementwise(Cosh, sympy.cosh)
abs = _elementwise(Absolute, sympy.Abs)  # noqa: A001 - the name users expect, as in NumPy
sign = _elementwise(Sign, sympy.sign)
softplus = _elementwise(Softplus, Softplus.scalar)
log1p = _elementwise(Log1p, Log1p.scalar)
expm1 = _elementwise(Expm1, Expm1.scalar)
erf = _elementwise(Erf, sympy.erf)
gelu = _elementwise(Gelu, Gelu.scalar)


def logsigmoid(x):
    """log σ(X), entry by entry (compiled in the stable form −log(1 + exp(−X)))."""
    return log(sigmoid(x))


def square(x):
    """X∘², every entry squared."""
    return power(x, 2)


def reciprocal(x):
    """1 ⊘ X, the reciprocal of every entry."""
    return power(x, -1)


def _broadcast_pair(name, a, b):
    """Two operands of an entrywise function of two arguments: a scalar meets a matrix
    as s𝟏 of the matrix's shape."""
    from .algebra import build, mul

    def spread(s, shape):
        return mul(s, build(OneMatrix, *shape)) if s != 0 else build(ZeroMatrix, *shape)

    a, b = _sympify(a), _sympify(b)
    if _is_matrix(a) and not _is_matrix(b):
        b = spread(b, a.shape)
    elif _is_matrix(b) and not _is_matrix(a):
        a = spread(a, b.shape)
    if _is_matrix(a) and a.shape != b.shape:
        raise ShapeError(f"{name} takes two matrices of one shape, got {shape_text(a)} and {shape_text(b)}")
    return a, b


def maximum(a, b):
    """The entrywise maximum of A and B (a scalar stands for s𝟏), as NumPy's ``np.maximum``.
    At a tie the derivative is shared, ½ to each argument (JAX's convention)."""
    a, b = _broadcast_pair("maximum", a, b)
    return Maximum(a, b) if _is_matrix(a) else Max(a, b)


def minimum(a, b):
    """The entrywise minimum of A and B (a scalar stands for s𝟏), as NumPy's ``np.minimum``."""
    a, b = _broadcast_pair("minimum", a, b)
    return Minimum(a, b) if _is_matrix(a) else sympy.Min(a, b)


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


def norm(X, p=2):
    """‖X‖ₚ of the entries of X: ``p=2`` (or ``"fro"``) the 2-norm of a vector and the
    Frobenius norm of a matrix, ``p=1`` the sum of absolute values, ``p=inf`` the largest
    absolute value.  (For a matrix these are entrywise norms, not NumPy's induced ones.)"""
    if not _is_matrix(X):
        raise TypeError(f"norm takes a matrix expression, got {X!r}")
    if p == 2 or p == "fro":
        return Norm(X)
    if p == 1:
        return Norm1(X)
    if p in (sympy.oo, float("inf"), "inf"):
        return MaxAll(Absolute(X))
    raise ValueError(f"norm takes p = 1, 2 ('fro') or inf, got {p!r}")


def max(X, axis=None):  # noqa: A001 - the name users expect, as in NumPy
    """The largest entry of X (a scalar), or along an axis as NumPy's ``X.max(axis,
    keepdims=True)``: axis 1 gives each row's maximum (N×1), axis 0 each column's (1×M)."""
    if not _is_matrix(X):
        raise TypeError(f"max takes a matrix expression, got {X!r}")
    return MaxAll(X) if axis is None else MaxAlong(X, _axis(axis))


def min(X, axis=None):  # noqa: A001 - the name users expect, as in NumPy
    """The smallest entry of X (a scalar), or along an axis (see :func:`max`)."""
    if not _is_matrix(X):
        raise TypeError(f"min takes a matrix expression, got {X!r}")
    return MinAll(X) if axis is None else MinAlong(X, _axis(axis))


def _axis(axis):
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0, 1, -1 or -2, got {axis!r}")
    return axis % 2


def hadamard(*factors):
    """A ⊙ B ⊙ …, the entrywise product of same-shaped matrices; a scalar factor scales the
    product (NumPy's ``*``)."""
    if len(factors) < 2:
        raise TypeError("hadamard needs at least two matrices")
    factors = [_sympify(f) for f in factors]
    matrices = [f for f in factors if _is_matrix(f)]
    scalars = [f for f in factors if not _is_matrix(f)]
    if not matrices:
        raise TypeError("hadamard needs at least one matrix; multiply scalars with *")
    check_same_shape(*matrices, operation="multiply elementwise")
    product = matrices[0] if len(matrices) == 1 else HadamardProduct(*matrices)
    return sympy.Mul(*scalars) * product if scalars else product


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


# ---------------------------------------------------------------- SymPy's own elementwise nodes

_HEADS = {sympy.sin: Sin, sympy.cos: Cos, sympy.tan: Tan, sympy.asin: Arcsin, sympy.acos: Arccos,
          sympy.atan: Arctan, sympy.sinh: Sinh, sympy.cosh: Cosh, sympy.tanh: Tanh, sympy.exp: Exp,
          sympy.log: Log, sympy.Abs: Absolute, sympy.sign: Sign, sympy.erf: Erf}


def adopt(expr):
    """``expr`` with SymPy's ``X.applyfunc(f)`` nodes written as matcalc's own where f is a
    function matcalc knows (``x.applyfunc(sin)`` → sin(x), ``d ↦ d**2`` → x∘²); any other
    function stays an ``ElementwiseApplyFunction``, which the rules and the compiler handle
    through SymPy's scalar derivative.  Linear in the DAG; the identity on expressions that
    hold no ``applyfunc``."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    from .algebra import build, map_nodes, power
    from .walk import nodes

    if not isinstance(expr, Basic) or not any(isinstance(n, ElementwiseApplyFunction) for n in nodes(expr)):
        return expr

    def own_node(node):
        if not isinstance(node, ElementwiseApplyFunction):
            return node
        X, (d,), body = node.expr, node.function.variables, node.function.expr
        if type(body) in _HEADS and body.args == (d,):
            return build(_HEADS[type(body)], X)
        if body.is_Pow and body.base == d and body.exp.is_number:
            return build(Sqrt, X) if body.exp == sympy.S.Half else power(X, body.exp)
        return X if body == d else node

    return map_nodes(expr, own_node)
