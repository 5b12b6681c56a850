"""Walks over expression DAGs: each distinct subexpression visited once.

SymPy's ``preorder_traversal``, ``free_symbols``, ``atoms`` and ``has`` walk the expression
*tree*, so on a derivative that shares its forward intermediates (a softmax nested k deep
repeats its argument in every step) they cost time exponential in the depth.  These
walks remember what they have seen; their cost is linear in the distinct nodes.
"""
from __future__ import annotations

import sympy
from sympy import Basic, Lambda
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import MatrixExpr

__all__ = ["nodes", "atoms", "dimensions", "scalar_symbols"]


def nodes(*exprs, leaves=()):
    """The distinct subexpressions of ``exprs`` (None skipped), in pre-order of first
    appearance: the order in which a reader meets them, as SymPy's ``preorder_traversal``
    gives them, but each once.  The arguments of instances of ``leaves`` are not visited."""
    seen = set()
    stack = [e for e in reversed(exprs) if isinstance(e, Basic)]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        if not isinstance(node, leaves):
            stack.extend(a for a in reversed(node.args) if isinstance(a, Basic) and a not in seen)


def atoms(exprs, *types) -> list:
    """The subexpressions of ``exprs`` that are instances of ``types``, each once, in
    order of first appearance."""
    return [n for n in nodes(*exprs) if isinstance(n, types)]


def dimensions(exprs) -> set:
    """The dimension symbols: the free symbols of every matrix node's shape."""
    dims = set()
    for node in nodes(*exprs):
        if isinstance(node, MatrixExpr):
            for d in node.shape:
                dims |= _sympify(d).free_symbols
    return dims


def scalar_symbols(exprs, dims=frozenset()) -> list:
    """The scalar symbols of ``exprs`` that are not dimensions (free ones only: the bound
    variable of an elementwise ``Lambda`` is not an input), in order of first appearance."""
    found = []
    for node in nodes(*exprs, leaves=(sympy.Symbol, Lambda)):
        if isinstance(node, sympy.Symbol) and node not in dims:
            found.append(node)
        elif isinstance(node, Lambda):
            found.extend(s for s in node.free_symbols if s not in dims and s not in found)
    return found
