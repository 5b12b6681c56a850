"""Linear nodes: sums, transposes, traces, sums of entries.

A linear map L has dL(X) = L(dX) and adjoint Lᵀ: the rules are one line each.
"""
from sympy import Identity, MatAdd, Transpose, Trace
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ...core.algebra import add, mul, ones_like, transpose
from ...core.functions import SumAll
from . import adjoint, differential


@adjoint(MatAdd, "sum rule")
def matadd_adjoint(node, adj):
    """C = A + B  ⇒  Ā = C̄, B̄ = C̄."""
    for term in node.args:
        yield term, adj


@differential(MatAdd, "sum rule")
def matadd_differential(node, d):
    """d(A + B) = dA + dB."""
    return add(*[d(term) for term in node.args])


@adjoint(Transpose, "transpose rule")
def transpose_adjoint(node, adj):
    """C = Aᵀ  ⇒  Ā = C̄ᵀ."""
    yield node.arg, transpose(adj)


@differential(Transpose, "transpose rule")
def transpose_differential(node, d):
    """d(Aᵀ) = (dA)ᵀ."""
    return transpose(d(node.arg))


@adjoint(Trace, "trace rule")
def trace_adjoint(node, adj):
    """c = tr A  ⇒  Ā = c̄ I."""
    yield node.arg, mul(adj, Identity(node.arg.shape[0]))


@differential(Trace, "trace rule")
def trace_differential(node, d):
    """d tr A = tr dA."""
    inner = d(node.arg)
    return None if inner is None else Trace(inner)


@adjoint(SumAll, "sum of entries")
def sum_adjoint(node, adj):
    """c = 1ᵀA1  ⇒  Ā = c̄ 11ᵀ."""
    yield node.arg, mul(adj, ones_like(node.arg))


@differential(SumAll, "sum of entries")
def sum_differential(node, d):
    """d sum(A) = sum(dA)."""
    inner = d(node.arg)
    return None if inner is None else SumAll(inner)


@adjoint(DiagMatrix, "diagonal rule")
def diag_adjoint(node, adj):
    """C = diag(v)  ⇒  v̄ = the diagonal of C̄ (as v's shape)."""
    v = node.args[0]
    if v.shape == (1, 1):      # diag of a 1×1 is itself
        yield v, adj
        return
    diagonal = DiagonalOf(adj)  # n×1
    yield v, diagonal if v.shape[1] == 1 else transpose(diagonal)


@differential(DiagMatrix, "diagonal rule")
def diag_differential(node, d):
    """d diag(v) = diag(dv)."""
    inner = d(node.args[0])
    return None if inner is None else DiagMatrix(inner)


@adjoint(DiagonalOf, "diagonal rule")
def diagonal_of_adjoint(node, adj):
    """c = diagonal(A) (a column)  ⇒  Ā = diag(c̄)."""
    if node.args[0].shape == (1, 1):    # the diagonal of a 1×1 is itself
        yield node.args[0], adj
        return
    yield node.args[0], DiagMatrix(adj)


@differential(DiagonalOf, "diagonal rule")
def diagonal_of_differential(node, d):
    """d diagonal(A) = diagonal(dA)."""
    inner = d(node.args[0])
    return None if inner is None else DiagonalOf(inner)
