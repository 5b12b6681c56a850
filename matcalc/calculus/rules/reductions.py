"""Reductions with a kink: the 1-norm and the largest or smallest entry.

‖X‖₁ = sum |X| has derivative sign(X) (0 at a zero entry).  max(X) picks one entry, so
its derivative is the indicator M of where the maximum is; tied maxima share the weight
(M's entries sum to 1 over each reduced group), as JAX does.  Along an axis the same
holds row by row (or column by column): d max(X, 1) = (M ⊙ dX) 1.
"""
from ...core.algebra import build, hadamard, mul, sum_entries
from ...core import functions as F
from .losses import _reduce, _spread
from . import adjoint, differential


@adjoint(F.Norm1, "1-norm rule")
def norm1_adjoint(node, adj):
    """c = ‖X‖₁  ⇒  X̄ = c̄ sign(X)."""
    yield node.arg, mul(adj, build(F.Sign, node.arg))


@differential(F.Norm1, "1-norm rule")
def norm1_differential(node, d):
    """d‖X‖₁ = sum(sign(X) ⊙ dX)."""
    dX = d(node.arg)
    return None if dX is None else sum_entries(hadamard(build(F.Sign, node.arg), dX))


_MASK = {F.MaxAll: F.ArgMax, F.MinAll: F.ArgMin, F.MaxAlong: F.ArgMax, F.MinAlong: F.ArgMin}


def _name(cls):
    return f"chain rule through {cls.extreme}"


@adjoint((F.MaxAll, F.MinAll), _name)
def extreme_adjoint(node, adj):
    """c = max(X)  ⇒  X̄ = c̄ M, M the indicator of the maximum (ties share it)."""
    yield node.arg, mul(adj, build(_MASK[type(node)], node.arg, -1))


@differential((F.MaxAll, F.MinAll), _name)
def extreme_differential(node, d):
    """d max(X) = sum(M ⊙ dX)."""
    dX = d(node.arg)
    return None if dX is None else sum_entries(hadamard(build(_MASK[type(node)], node.arg, -1), dX))


@adjoint((F.MaxAlong, F.MinAlong), _name)
def extreme_along_adjoint(node, adj):
    """C = max(X, 1) (a column)  ⇒  X̄ = (C̄ 1ᵀ) ⊙ M, M the indicator of each row's maximum."""
    X = node.arg
    yield X, hadamard(_spread(node.axis, adj, X.shape), build(_MASK[type(node)], X, node.axis))


@differential((F.MaxAlong, F.MinAlong), _name)
def extreme_along_differential(node, d):
    """d max(X, 1) = (M ⊙ dX) 1."""
    dX = d(node.arg)
    if dX is None:
        return None
    X = node.arg
    return _reduce(node.axis, hadamard(build(_MASK[type(node)], X, node.axis), dX), X.shape)


@adjoint((F.ArgMax, F.ArgMin), "indicator rule")
def indicator_adjoint(node, adj):
    """M = 1[X = max X] is piecewise constant: M̄ contributes nothing to X̄."""
    return iter(())


@differential((F.ArgMax, F.ArgMin), "indicator rule")
def indicator_differential(node, d):
    """dM = 0 almost everywhere."""
    return None
