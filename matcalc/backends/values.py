"""The value model of code generation: how a computed node is stored.

Each node the printer has computed is a :class:`Val`: the Python text naming it and how its
entries are laid out, so that later nodes can use it without looking at the text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Val:
    """A computed node: the Python text that names it and how it is stored.

    A matrix value may be stored *collapsed* along an axis whose entries are all equal
    (``rows_same``: every row is the same, stored as 1×cols; ``cols_same`` likewise), so
    that ``1b``, ``1ᵀ`` and ``OneMatrix`` never allocate their full shape; NumPy
    broadcasting expands them for free when they meet a full array.
    """
    code: str
    scalar: bool = False
    rows_same: bool = False
    cols_same: bool = False
    one: bool = False          # the matrix of ones itself (code "1.0")


ONES = Val("1.0", rows_same=True, cols_same=True, one=True)
ATOM = re.compile(r"^(?:[A-Za-z_][A-Za-z_0-9]*(?:\.T)?|\d+(?:\.\d*)?(?:e[-+]?\d+)?)$")


def is_atom(code: str) -> bool:
    return bool(ATOM.match(code))
