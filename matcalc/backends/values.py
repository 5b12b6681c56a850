"""The value model of code generation: what a computed node is and how it is stored.

Each node the printer has computed is a :class:`Val`.  Everything later code needs to know
about it (is it a scalar, is it stored collapsed, is it a single number standing for a
whole matrix, is it the transpose of a variable) is recorded here when the node is
emitted; the printer never inspects generated text to find out.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Val:
    """A computed node: the Python name that holds it and how its entries are stored.

    ``name`` is a variable or a number literal, never a compound expression, so it can be
    repeated and can stand next to any operator; ``code`` is ``name`` or ``name.T``.

    A matrix may be stored *collapsed* along an axis whose entries are all equal, so that
    ``1b``, ``1ᵀ`` and ``OneMatrix`` never allocate their full shape; NumPy broadcasting
    expands them for free when they meet a full array.  The flags are exact:

    * ``rows_same``: stored with one row (or as a number); false means all rows are stored;
    * ``cols_same``: likewise for the columns;
    * ``uniform``: every entry equal and stored as one 0-d number (a Python float or a NumPy
      scalar), not an array; implies ``rows_same`` and ``cols_same``.  Such a value has no
      axes, so whatever its shape it must be expanded before an axis is asked of it;
    * ``one`` / ``zero``: the matrix of ones / zeros itself (uniform).

    ``scalar`` marks a SymPy scalar (a number in the generated code, not a matrix).
    """
    name: str
    scalar: bool = False
    rows_same: bool = False
    cols_same: bool = False
    uniform: bool = False
    one: bool = False
    zero: bool = False
    transposed: bool = False

    @property
    def code(self) -> str:
        return f"{self.name}.T" if self.transposed else self.name


def stored_like(*vals: Val) -> dict:
    """The layout of an entrywise combination of matrices (NumPy broadcasting): collapsed
    along an axis, or a single number, only where every operand is."""
    return {"rows_same": all(v.rows_same for v in vals), "cols_same": all(v.cols_same for v in vals),
            "uniform": all(v.uniform for v in vals)}


ONES = Val("1.0", rows_same=True, cols_same=True, uniform=True, one=True)
ZEROS = Val("0.0", rows_same=True, cols_same=True, uniform=True, zero=True)
