"""Scalars and matrices in SymPy's arithmetic operators: the Python API mixes them as the
text syntax does.

SymPy refuses ``1 - y`` and ``log det S + (x − μ)ᵀS⁻¹(x − μ)`` with a bare ``TypeError``
("Mix of Matrix and Scalar symbols"), and ``1 / (xᵀy)`` with a ``NotImplementedError``.
Importing matcalc wraps these operators of SymPy's ``MatrixExpr`` (:func:`install`):

* ``s + M``, ``M + s``, ``s - M``, ``M - s`` broadcast the scalar over M's shape, s 𝟏 ± M
  with 𝟏 the matrix of ones, built by the same constructors as the parser's ``+`` and
  ``-``; with a 1×1 M the result is a 1×1 matrix expression, which ``gradient`` takes as
  the scalar it is;
* ``s / M`` and ``s ** M`` with a 1×1 M are the scalar quotient s M⁻¹ and the power
  s^(tr M); with a larger M they raise :class:`~matcalc.errors.ShapeError` naming the
  entrywise and the matrix alternatives.

Matrix with matrix, and a matrix with anything that is not a SymPy scalar, stays SymPy's
own (with matcalc's strict shape checks).
"""
from __future__ import annotations

import sympy
from sympy.core.sympify import SympifyError, _sympify
from sympy.matrices.expressions import MatrixExpr, OneMatrix, ZeroMatrix

from ..errors import ShapeError
from . import algebra
from .shapes import shape_text

_ORIGINAL: dict = {}


def _scalar(other):
    """``other`` as a SymPy scalar expression, or None for a matrix or a foreign object."""
    try:
        other = _sympify(other)
    except SympifyError:
        return None
    if isinstance(other, sympy.Expr) and not isinstance(other, MatrixExpr) and not getattr(other, "is_Matrix", False):
        return other
    return None


def _broadcasting(name, scalar_first, minus):
    """The operator ``name`` of a matrix M and a scalar s: s 𝟏 ± M (``scalar_first``) or
    M ± s 𝟏, with the sign ``minus`` on the second operand."""
    def operator(self, other):
        s = _scalar(other)
        if s is None:
            return _ORIGINAL[name](self, other)
        spread = algebra.mul(s, algebra.build(OneMatrix, *self.shape))   # None for s = 0
        first, second = (spread, self) if scalar_first else (self, spread)
        if minus and second is not None:
            second = algebra.neg(second)
        total = algebra.add(*[t for t in (first, second) if t is not None])
        return total if total is not None else algebra.build(ZeroMatrix, *self.shape)
    operator.__name__ = name
    operator.__doc__ = f"{'s ' if scalar_first else 'M '}{'−' if minus else '+'}{' M' if scalar_first else ' s'}, " \
                       f"with s broadcast as s 𝟏."
    return operator


_add = _broadcasting("__add__", scalar_first=False, minus=False)
_radd = _broadcasting("__radd__", scalar_first=True, minus=False)
_sub = _broadcasting("__sub__", scalar_first=False, minus=True)
_rsub = _broadcasting("__rsub__", scalar_first=True, minus=True)


def _rtruediv(self, other):
    """s / M = s M⁻¹ for a 1×1 M (the scalar quotient)."""
    s = _scalar(other)
    if s is None:
        return NotImplemented
    if self.shape != (1, 1):
        times = "" if s == 1 else f"{s} * "
        raise ShapeError(
            f"cannot divide the scalar {s} by the matrix {shape_text(self)}: write "
            f"{times}mc.power({self}, -1) to divide entry by entry, or {times}mc.inv({self}) for the inverse")
    quotient = algebra.mul(s, algebra.inverse(self))
    return quotient if quotient is not None else algebra.build(ZeroMatrix, 1, 1)


def _rpow(self, other):
    """s ** M = s^(tr M) for a 1×1 M (the scalar power)."""
    s = _scalar(other)
    if s is None:
        return NotImplemented
    if self.shape != (1, 1):
        raise ShapeError(
            f"cannot raise the scalar {s} to the power of the matrix {shape_text(self)}: write "
            f"mc.exp(log({s}) * {self}) for the entrywise power")
    return s ** algebra.as_scalar(self)


_WRAPPERS = {"__add__": _add, "__radd__": _radd, "__sub__": _sub, "__rsub__": _rsub,
             "__rtruediv__": _rtruediv, "__rpow__": _rpow}


def install():
    """Wrap MatrixExpr's +, − (both sides), and a scalar's / and ** by a matrix (once)."""
    for name, wrapper in _WRAPPERS.items():
        current = MatrixExpr.__dict__[name]
        if getattr(current, "_matcalc_mixing", False):
            continue
        _ORIGINAL[name] = current
        wrapper._matcalc_mixing = True
        wrapper.__name__ = name
        setattr(MatrixExpr, name, wrapper)


install()
