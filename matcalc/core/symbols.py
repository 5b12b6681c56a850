"""Matrix symbols, dimensions and assumptions.

The lowest layer: everything else builds on these constructors.  A dimension is an int or
a name; names become positive integer SymPy symbols, the same object for the same name, so
``matrix("A", "n", "m")`` and ``rowvec("x", "n")`` share ``n``.

Assumptions (``symmetric``, ``spd``, ``positive``, ``onehot``) travel with the symbol:
they are part of its identity, which keeps a symmetric ``A`` and a general ``A`` apart.
"""
from __future__ import annotations

import sympy
from sympy import Integer, Tuple
from sympy.core.sympify import _sympify
from sympy.core.symbol import Str
from sympy.matrices.expressions import matexpr

from ..errors import ShapeError

KNOWN_ASSUMPTIONS = ("symmetric", "spd", "positive", "onehot")

_DIMENSIONS: dict[str, sympy.Symbol] = {}


def dim(value) -> sympy.Expr:
    """Turn an int, a name or a SymPy expression into a dimension."""
    if isinstance(value, bool):
        raise TypeError(f"a dimension must be an int or a name, not {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ShapeError(f"a dimension must be at least 1, got {value}")
        return Integer(value)
    if isinstance(value, str):
        if not value.isidentifier():
            raise ValueError(f"a dimension name must be an identifier, got {value!r}")
        if value not in _DIMENSIONS:
            _DIMENSIONS[value] = sympy.Symbol(value, integer=True, positive=True)
        return _DIMENSIONS[value]
    if isinstance(value, sympy.Expr):
        return value
    raise TypeError(f"a dimension must be an int, a name or a SymPy expression, not {value!r}")


class MatrixSymbol(matexpr.MatrixSymbol):
    """A SymPy ``MatrixSymbol`` that also carries matcalc's assumptions.

    ``assumptions`` is a frozenset drawn from ``KNOWN_ASSUMPTIONS``.  The transpose of a
    symmetric symbol is the symbol itself.
    """

    _op_priority = 11.5

    def __new__(cls, name, n, m, assumptions=()):
        if isinstance(assumptions, Tuple):
            flags = tuple(str(a) for a in assumptions)
        else:
            flags = tuple(sorted(set(assumptions)))
        unknown = [a for a in flags if a not in KNOWN_ASSUMPTIONS]
        if unknown:
            raise ValueError(f"unknown assumption {unknown[0]!r}; known: {', '.join(KNOWN_ASSUMPTIONS)}")
        name = Str(name) if isinstance(name, str) else name
        n, m = _sympify(n), _sympify(m)  # strict: text is never evaluated
        if ("symmetric" in flags or "spd" in flags) and n != m:
            raise ShapeError(f"{name} is declared symmetric but its shape is {n}×{m}")
        if not flags:
            return matexpr.MatrixSymbol.__new__(cls, name, n, m)
        obj = sympy.Basic.__new__(cls, name, n, m, Tuple(*[Str(a) for a in flags]))
        return obj

    @property
    def assumptions(self) -> frozenset:
        if len(self.args) > 3:
            return frozenset(str(a) for a in self.args[3])
        return frozenset()

    def is_assumed(self, flag: str) -> bool:
        return flag in self.assumptions

    def doit(self, **hints):
        return self

    def _eval_transpose(self):
        if self.assumptions & {"symmetric", "spd"}:
            return self
        return super()._eval_transpose()

    def _eval_inverse(self):
        return super()._eval_inverse()


def matrix_symbols(*exprs) -> list:
    """The matrix symbols of the expressions, each once, in order of first appearance
    (pre-order: the order a reader meets them)."""
    from .walk import atoms
    return atoms(exprs, matexpr.MatrixSymbol)


def assumptions_of(expr) -> frozenset:
    """The assumptions of a matcalc symbol, or an empty set for anything else."""
    return getattr(expr, "assumptions", frozenset()) if isinstance(expr, MatrixSymbol) else frozenset()


def matrix(name: str, rows, cols, *, symmetric=False, spd=False, positive=False, onehot=False):
    """A ``rows × cols`` matrix symbol.

    ``symmetric``: Aᵀ = A.  ``spd``: symmetric positive definite.  ``positive``: every entry
    is positive (for logs and square roots).  ``onehot``: every row is a one-hot vector, so
    its row sums are 1 (enables the softmax cross-entropy simplification).
    """
    flags = [flag for flag, on in (("symmetric", symmetric), ("spd", spd),
                                   ("positive", positive), ("onehot", onehot)) if on]
    return MatrixSymbol(name, dim(rows), dim(cols), flags)


def rowvec(name: str, n, **assumptions):
    """A 1×n row vector symbol (the convention of seed 000)."""
    return matrix(name, 1, n, **assumptions)


def colvec(name: str, n, **assumptions):
    """An n×1 column vector symbol (the convention of seed 002)."""
    return matrix(name, n, 1, **assumptions)


def scalar(name: str, **assumptions) -> sympy.Symbol:
    """A real scalar symbol, such as a regularisation weight λ."""
    return sympy.Symbol(name, real=True, **assumptions)


def is_row_vector(expr) -> bool:
    return expr.shape[0] == 1


def is_column_vector(expr) -> bool:
    return expr.shape[1] == 1


def is_vector(expr) -> bool:
    return is_row_vector(expr) or is_column_vector(expr)


def shape_str(shape) -> str:
    """``(n, 1)`` → ``'n×1'``."""
    return "×".join(str(s) for s in shape)
