"""Which losses split over the rows of their data: the check behind training on chunks.

Training on data cut into row chunks (:mod:`matcalc.apps.dask_train`) computes a loss and
its gradients as one part free of the data plus a sum of one term per chunk,

    L(X) = F(params) + Σ_chunks R(X_chunk),

which is exact only when L is a sum over the rows.  :func:`split_over_rows` decides that
on the expression itself and returns the two parts, or raises :class:`NotSeparable`
naming the subexpression that couples rows.  Every subexpression gets a *kind*:

* ``free``: no row dimension and no row-indexed data (parameters, scalars, 1/N, data
  without the row dimension);
* ``rows0``/``rows1``: the row dimension N on axis 0 (X, 𝟏 b, σ(X W)) or axis 1 (Xᵀ, a
  row vector y 1×N), computed row by row: entry i reads only row i of the data;
* ``summed``: a full sum over the rows of row-wise values (𝟏ᵀ v, Xᵀ G, sum(…), ‖r‖²);
* ``mixed``: a summed part plus a free part (Σ (x w − y)² + λ‖w‖²).

Entrywise functions, products on the right by parameters, broadcast rows, softmax and
log-sum-exp within rows and Hadamard products keep a row-wise kind; a contraction over N
makes it ``summed``; sums and scalings by free factors keep ``summed`` (``mixed``).
Anything else that meets a row-wise or summed value is refused: a function of a sum
(‖r‖ without the square, logdet(XᵀX), sum(Xw)²), a max over all rows, a softmax across
rows, an N×N matrix.

The scalar N itself (in 1/N) is the total row count: :func:`total_rows` writes it as a
scalar symbol of its own, so that a chunk's code reads its own N off its arrays for
shapes and the total for scalings.
"""
from __future__ import annotations

import sympy
from sympy import Basic, Symbol
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    Determinant, HadamardPower, HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, MatrixExpr,
    MatrixSymbol, OneMatrix, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core import algebra
from ..core.kronecker import CommutationMatrix
from ..core.functions import (
    ArgMax, ArgMin, Elementwise, LogSumExp, MaxAll, MaxAlong, MinAll, MinAlong, Norm, Norm1, Softmax,
    SumAll, _AlongAxis, _OfTwoMatrices,
)
from ..core.walk import nodes
from ..errors import MatcalcError

__all__ = ["NotSeparable", "kind_of", "split_over_rows", "total_rows"]

FREE, SUMMED, MIXED, ROWS = "free", "summed", "mixed", ("rows0", "rows1")
_REDUCED = (FREE, SUMMED, MIXED)


class NotSeparable(MatcalcError, ValueError):
    """An expression that is not a sum over rows; ``node`` is the subexpression that
    couples rows and ``reason`` says how."""

    def __init__(self, node, reason):
        self.node, self.reason = node, reason
        super().__init__(reason)


class _Analysis:
    """The kind of every subexpression of some expressions (memoised: a derivative shares
    its forward intermediates, so a tree walk could be exponential)."""

    def __init__(self, rows, parameters):
        self.rows = rows
        self.parameters = frozenset(parameters)
        self.memo = {}

    def kind(self, expr):
        try:
            return self.memo[expr]
        except KeyError:
            pass
        result = self._kind(expr)
        if isinstance(expr, MatrixExpr) and result not in ROWS and self.rows in _shape_symbols(expr):
            raise NotSeparable(expr, f"its shape {expr.shape} holds the row dimension {self.rows} in a way "
                                     f"that is not row by row")
        self.memo[expr] = result
        return result

    # -- the rules: one per construct, looked up along the node's class hierarchy

    def _kind(self, expr):
        for cls in type(expr).__mro__:
            rule = _RULES.get(cls)
            if rule is not None:
                return rule(self, expr)
        return self._other(expr)

    def _identity(self, expr):
        if self.rows in _shape_symbols(expr):
            raise NotSeparable(expr, f"the identity over the rows ({self.rows}×{self.rows}) pairs rows")
        return FREE

    def _transpose(self, expr):
        inner = self.kind(expr.arg)
        return ROWS[1 - ROWS.index(inner)] if inner in ROWS else inner

    def _pow(self, expr):
        if isinstance(expr.base, Norm) and expr.exp == 2:   # ‖A‖² = sum(A ⊙ A)
            return self._sum_entries(self._entrywise(self.kind(expr.base.arg), expr), expr)
        return self._power(self.kind(expr.base), expr.exp, expr)

    def _extreme(self, expr):
        if self.kind(expr.arg) != FREE:
            raise NotSeparable(expr, f"the {expr.extreme} over all entries runs over every row at once")
        return FREE

    def _norm(self, expr):
        if self.kind(expr.arg) != FREE:
            raise NotSeparable(expr, "a norm is the square root of a sum over rows, not a sum "
                                     "(its square, ‖·‖², splits)")
        return FREE

    def _symbol(self, symbol):
        if symbol.name in self.parameters:
            if self.rows in _shape_symbols(symbol):
                raise NotSeparable(symbol, f"the parameter {symbol.name} has the row dimension {self.rows}")
            return FREE
        return self._rows_axis(symbol, f"data {symbol.name}")

    def _rows_axis(self, expr, what):
        axes = [axis for axis, size in enumerate(expr.shape) if _sympify(size) == self.rows]
        if len(axes) == 2:
            raise NotSeparable(expr, f"the {what} is {self.rows}×{self.rows}: it pairs every row with every other")
        if not axes and self.rows in _shape_symbols(expr):
            raise NotSeparable(expr, f"the {what} has a dimension that is a function of {self.rows}")
        return ROWS[axes[0]] if axes else FREE

    def _sum(self, kinds, expr):
        distinct = set(kinds)
        if len(distinct) == 1:
            return kinds[0]
        if distinct <= set(_REDUCED):
            return MIXED
        raise NotSeparable(expr, "it adds values computed row by row to values that are not")

    def _matmul(self, expr):
        scale, product, inner = [], None, None
        for arg in expr.args:
            kind = self.kind(arg)
            if not isinstance(arg, MatrixExpr):
                scale.append(kind)
            elif product is None:
                product, inner = kind, arg.shape[1]
            else:
                product, inner = self._pair(product, kind, inner, expr), arg.shape[1]
        return self._scale(scale + [product], expr)

    def _pair(self, left, right, inner, expr):
        """The kind of A B from the kinds of A and B and their shared dimension."""
        if _sympify(inner) == self.rows:
            if (left, right) == ROWS[::-1]:
                return SUMMED   # Σ_i a_i b_i: a contraction over the rows
            raise NotSeparable(expr, f"a product over {self.rows} whose factors are not both row by row")
        if FREE in (left, right):
            return right if left == FREE else left   # X W, 𝟏 b, W (XᵀX) …
        if left in ROWS and right in ROWS:
            raise NotSeparable(expr, f"an outer product over the rows ({self.rows}×{self.rows}) pairs every "
                                     f"row with every other")
        if left in ROWS or right in ROWS:
            raise NotSeparable(expr, "it multiplies values computed row by row by a sum over all rows")
        raise NotSeparable(expr, "it multiplies two sums over the rows")

    def _scale(self, kinds, expr):
        """The kind of a product of scalars (and at most one matrix) by entries."""
        others = [k for k in kinds if k != FREE]
        if not others:
            return FREE
        if len(others) == 1:
            return others[0]
        if any(k in ROWS for k in others):
            raise NotSeparable(expr, "it scales values computed row by row by a sum over all rows")
        raise NotSeparable(expr, "it multiplies two sums over the rows")

    def _hadamard(self, kinds, expr):
        others = [k for k in kinds if k != FREE]
        if not others:
            return FREE
        if len(set(others)) == 1 and (others[0] in ROWS or len(others) == 1):
            return others[0]   # row by row ⊙ row by row, or a (partly) summed value ⊙ free ones
        raise NotSeparable(expr, "an entrywise product of sums over the rows, or of a sum with "
                                 "values computed row by row")

    def _power(self, base, exponent, expr):
        if self.kind(exponent) != FREE:
            raise NotSeparable(expr, "an exponent that depends on the rows")
        if base in ROWS or base == FREE or exponent == 1:
            return base
        raise NotSeparable(expr, "a power of a sum over the rows is not a sum over the rows")

    def _entrywise(self, kind, expr):
        if kind in _REDUCED and kind != FREE:
            raise NotSeparable(expr, "an entrywise function of a sum over the rows is not a sum over the rows")
        return kind

    def _sum_entries(self, kind, expr):
        return SUMMED if kind in ROWS else kind

    def _along(self, expr):
        kind = self.kind(expr.arg)
        if kind == FREE:
            return FREE
        if kind in ROWS and expr.axis == 1 - ROWS.index(kind):
            return kind   # within each row: row by row
        name = _ALONG_NAMES.get(type(expr), type(expr).__name__)
        if kind in ROWS:
            where = "over all entries" if expr.axis == -1 else f"along {self.rows}"
            raise NotSeparable(expr, f"{name} runs {where}, across the rows, coupling them")
        raise NotSeparable(expr, f"{name} of a sum over the rows is not a sum over the rows")

    def _other(self, expr):
        kinds = [self.kind(a) for a in expr.args if isinstance(a, Basic)]
        if all(k == FREE for k in kinds):
            return FREE   # whatever it is, it reads no row
        name = _NAMES.get(type(expr), type(expr).__name__)
        if any(k in (SUMMED, MIXED) for k in kinds):
            raise NotSeparable(expr, f"{name} of a sum over the rows is not a sum over the rows")
        raise NotSeparable(expr, f"{name} of values computed row by row has no rule for splitting over rows")


_RULES = {
    MatrixSymbol: lambda a, e: a._symbol(e),
    OneMatrix: lambda a, e: a._rows_axis(e, "𝟏 matrix"),
    ZeroMatrix: lambda a, e: a._rows_axis(e, "0 matrix"),
    Identity: _Analysis._identity,
    Transpose: _Analysis._transpose,
    MatAdd: lambda a, e: a._sum([a.kind(x) for x in e.args], e),                 # before Add: a subclass
    sympy.Add: lambda a, e: a._sum([a.kind(x) for x in e.args], e),
    MatMul: lambda a, e: a._matmul(e),                                           # before Mul: a subclass
    sympy.Mul: lambda a, e: a._scale([a.kind(x) for x in e.args], e),
    HadamardProduct: lambda a, e: a._hadamard([a.kind(x) for x in e.args], e),
    HadamardPower: lambda a, e: a._power(a.kind(e.args[0]), e.args[1], e),
    sympy.Pow: _Analysis._pow,
    Elementwise: lambda a, e: a._entrywise(a.kind(e.arg), e),                    # exp, log, σ, relu …
    ElementwiseApplyFunction: lambda a, e: a._entrywise(a.kind(e.expr), e),
    _OfTwoMatrices: lambda a, e: a._hadamard([a._entrywise(a.kind(x), e) for x in e.args], e),
    _AlongAxis: lambda a, e: a._along(e),                                        # softmax, logsumexp, max …
    SumAll: lambda a, e: a._sum_entries(a.kind(e.arg), e),
    Norm1: lambda a, e: a._sum_entries(a._entrywise(a.kind(e.arg), e), e),      # Σ |a_ij|
    MaxAll: _Analysis._extreme,
    MinAll: _Analysis._extreme,
    sympy.Trace: lambda a, e: a.kind(e.arg),   # of a square matrix without N: free, summed or mixed
    Norm: _Analysis._norm,
    Symbol: lambda a, e: FREE,
    sympy.Number: lambda a, e: FREE,
}
"""The rule of each construct: the kind of a node from its arguments' (see the module
docstring); a construct without one is free when all its arguments are, else refused."""


_ALONG_NAMES = {Softmax: "softmax", LogSumExp: "logsumexp", MaxAlong: "max", MinAlong: "min",
                ArgMax: "argmax", ArgMin: "argmin"}
_NAMES = {Determinant: "det", Inverse: "the inverse", MatPow: "a matrix power"}


def _shape_symbols(expr):
    found = set()
    for size in expr.shape:
        found |= _sympify(size).free_symbols
    return found


def kind_of(expr, rows, parameters):
    """The kind of ``expr`` ("free", "summed", "mixed", "rows0", "rows1"): see the module
    docstring; ``rows`` is the row dimension, ``parameters`` the names of the parameters
    (every other matrix symbol is data).  Raises :class:`NotSeparable`."""
    return _Analysis(rows, parameters).kind(_sympify(expr))


def split_over_rows(exprs, rows, parameters):
    """Each expression as ``(summed, free)``: its part that is a sum over the rows and its
    part free of row-indexed data, either None when it is zero (their sum is the
    expression).  Raises :class:`NotSeparable` for an expression that is neither, or that
    keeps the row dimension in its shape."""
    analysis = _Analysis(rows, parameters)
    return [_split(analysis, _sympify(e)) for e in exprs]


def _split(analysis, expr):
    kind = analysis.kind(expr)
    if kind == FREE:
        return None, expr
    if kind == SUMMED:
        return expr, None
    if kind in ROWS:
        raise NotSeparable(expr, f"the value keeps the row dimension {analysis.rows}: it is not summed over rows")
    # mixed: the only nodes that make one are linear, so split their arguments
    if isinstance(expr, (MatAdd, sympy.Add)):
        parts = [_split(analysis, a) for a in expr.args]
        return tuple(_add(expr, [p[i] for p in parts]) for i in (0, 1))
    if isinstance(expr, (MatMul, sympy.Mul, HadamardProduct)):
        at = next(i for i, a in enumerate(expr.args) if analysis.kind(a) != FREE)
        combine = {MatMul: algebra.mul, HadamardProduct: algebra.hadamard}.get(type(expr), sympy.Mul)
        return tuple(None if part is None else combine(*expr.args[:at], part, *expr.args[at + 1:])
                     for part in _split(analysis, expr.args[at]))
    if isinstance(expr, (Transpose, SumAll, sympy.Trace)):
        rebuild = {Transpose: algebra.transpose, SumAll: algebra.sum_entries,
                   sympy.Trace: lambda m: algebra.build(sympy.Trace, m)}[type(expr)]
        return tuple(None if part is None else rebuild(part) for part in _split(analysis, expr.args[0]))
    raise NotSeparable(expr, f"no rule splits a {type(expr).__name__} into its summed and free parts")


def _add(expr, terms):
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    if isinstance(expr, MatrixExpr):
        return algebra.add(*terms)
    return sympy.Add(*terms)


def total_rows(exprs, rows, name):
    """``exprs`` with the scalar ``rows`` (as in 1/N) written as the new real symbol
    ``name``, and that symbol; shapes (of symbols, 𝟏 and identity matrices) keep ``rows``."""
    total = Symbol(name, positive=True)
    sized = {n: n for n in nodes(*[e for e in exprs if e is not None])
             if isinstance(n, (MatrixSymbol, OneMatrix, ZeroMatrix, Identity, CommutationMatrix))}
    done = {**sized, rows: total}
    return [None if e is None else algebra.map_nodes(e, done=done) for e in exprs], total
