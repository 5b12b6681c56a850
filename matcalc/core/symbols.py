"""Matrix symbols, dimensions and assumptions.

The lowest layer: everything else builds on these constructors.  A dimension is an int or
a name; names become positive integer SymPy symbols, the same object for the same name, so
``matrix("A", "n", "m")`` and ``rowvec("x", "n")`` share ``n``.

Names are user text and reach generated code, so they are checked here, at the door:
:func:`check_name` refuses an empty name, one that is not printable text (a newline, a NUL,
a line separator) and one not in NFKC form, the form Python reads identifiers in.  ``ｎ``
(fullwidth) and ``n``, or ``ﬁ`` and ``fi``, are one identifier to Python; refusing the
non-normal spelling (with the normal one in the message) means that two names matcalc accepts
are never one name to Python.  A dimension name must also be an identifier.

Assumptions (``symmetric``, ``spd``, ``positive``, ``onehot``, ``binary``) travel with the symbol:
they are part of its identity, which keeps a symmetric ``A`` and a general ``A`` apart.
"""
from __future__ import annotations

import unicodedata

import sympy
from sympy import Integer, Tuple
from sympy.core.sympify import _sympify
from sympy.core.symbol import Str
from sympy.matrices.expressions import matexpr

from ..errors import InvalidNameError, ShapeError

KNOWN_ASSUMPTIONS = ("symmetric", "spd", "positive", "onehot", "binary")

_DIMENSIONS: dict[str, sympy.Symbol] = {}


def check_text(name, what="symbol name") -> str:
    """``name`` itself if it is non-empty printable text (nothing that could end a line of
    generated code), else :class:`InvalidNameError`."""
    if not isinstance(name, str):
        raise InvalidNameError(f"a {what} must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidNameError(f"a {what} must not be empty")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:   # a newline or a line separator could end a comment in generated code
        raise InvalidNameError(f"a {what} must be printable text, got {name!r} (it holds U+{ord(bad):04X})")
    return name


def check_name(name, what="symbol name") -> str:
    """``name`` itself if matcalc accepts it as the name of a symbol, else
    :class:`InvalidNameError`: a name is non-empty printable text in NFKC form."""
    check_text(name, what)
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        raise InvalidNameError(f"the {what} {name!r} is not in normal form: Python reads it as "
                               f"{normal!r} (NFKC); write {normal!r}")
    return name


def check_dimension_name(name) -> str:
    """``name`` itself if it can name a dimension (:func:`check_name`, and an identifier)."""
    check_name(name, "dimension name")
    if not name.isidentifier():
        raise InvalidNameError(f"a dimension name must be an identifier, got {name!r}")
    return name


def dim(value) -> sympy.Expr:
    """Turn an int, a name or a SymPy expression into a dimension.

    A name goes through :func:`check_dimension_name` (an identifier in NFKC form, so ``ｎ`` is
    refused: write ``n``); so does every symbol of a SymPy expression."""
    if isinstance(value, bool):
        raise TypeError(f"a dimension must be an int or a name, not {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ShapeError(f"a dimension must be at least 1, got {value}")
        return Integer(value)
    if isinstance(value, str):
        check_dimension_name(value)
        if value not in _DIMENSIONS:
            _DIMENSIONS[value] = sympy.Symbol(value, integer=True, positive=True)
        return _DIMENSIONS[value]
    if isinstance(value, sympy.Expr):
        return check_dimension(value)
    raise TypeError(f"a dimension must be an int, a name or a SymPy expression, not {value!r}")


def check_dimension(value: sympy.Expr) -> sympy.Expr:
    """A SymPy dimension itself, once its symbols' names pass :func:`check_dimension_name`
    and, when it is a number, it is at least 1."""
    if value.is_Integer and value < 1:
        raise ShapeError(f"a dimension must be at least 1, got {value}")
    for symbol in value.free_symbols:
        check_dimension_name(symbol.name)
    return value


class MatrixSymbol(matexpr.MatrixSymbol):
    """A SymPy ``MatrixSymbol`` that also carries matcalc's assumptions.

    ``assumptions`` is a frozenset drawn from ``KNOWN_ASSUMPTIONS``.  The transpose of a
    symmetric symbol is the symbol itself.  The name is printable text (:func:`check_text`):
    the display names of a derivation (``Z₁``) are symbols too; :func:`matrix`, the door for
    user symbols, also asks for NFKC form.
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
        check_text(name.name if isinstance(name, Str) else name, "matrix symbol name")
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


def matrix(name: str, rows, cols, *, symmetric=False, spd=False, positive=False, onehot=False, binary=False):
    """A ``rows × cols`` matrix symbol.

    ``name`` is printable text in NFKC form (see :func:`check_name`); ``rows`` and ``cols``
    are ints or dimension names (see :func:`dim`).  ``symmetric``: Aᵀ = A.  ``spd``:
    symmetric positive definite.  ``positive``: every entry is positive (for logs and square
    roots).  ``onehot``: every row is a one-hot vector, so its row sums are 1 (enables the
    softmax cross-entropy simplification).  ``binary``: every entry is 0 or 1 (the labels of a
    binary cross-entropy).
    """
    flags = [flag for flag, on in (("symmetric", symmetric), ("spd", spd), ("positive", positive),
                                   ("onehot", onehot), ("binary", binary)) if on]
    return MatrixSymbol(check_name(name, "matrix symbol name"), dim(rows), dim(cols), flags)


def rowvec(name: str, n, **assumptions):
    """A 1×n row vector symbol (the convention of seed 000)."""
    return matrix(name, 1, n, **assumptions)


def colvec(name: str, n, **assumptions):
    """An n×1 column vector symbol (the convention of seed 002)."""
    return matrix(name, n, 1, **assumptions)


def scalar(name: str, **assumptions) -> sympy.Symbol:
    """A real scalar symbol, such as a regularisation weight λ; ``name`` as for :func:`matrix`."""
    return sympy.Symbol(check_name(name, "scalar symbol name"), real=True, **assumptions)


def is_row_vector(expr) -> bool:
    return expr.shape[0] == 1


def is_column_vector(expr) -> bool:
    return expr.shape[1] == 1


def is_vector(expr) -> bool:
    return is_row_vector(expr) or is_column_vector(expr)


def shape_str(shape) -> str:
    """``(n, 1)`` → ``'n×1'``."""
    return "×".join(str(s) for s in shape)
