"""Inverse, determinant and norm."""
from sympy import Determinant, Inverse, Trace

from ...core.algebra import hadamard, mul, neg, sum_entries, transpose
from ...core.functions import Norm
from . import adjoint, differential


@adjoint(Inverse, "inverse rule")
def inverse_adjoint(node, adj):
    """C = A⁻¹  ⇒  Ā = −A⁻ᵀ C̄ A⁻ᵀ."""
    yield node.arg, neg(mul(transpose(node), adj, transpose(node)))


@differential(Inverse, "inverse rule")
def inverse_differential(node, d):
    """d(A⁻¹) = −A⁻¹ dA A⁻¹."""
    return neg(mul(node, d(node.arg), node))


@adjoint(Determinant, "determinant rule")
def determinant_adjoint(node, adj):
    """c = det A  ⇒  Ā = c̄ det(A) A⁻ᵀ (Jacobi's formula)."""
    yield node.arg, mul(adj, node, transpose(Inverse(node.arg)))


@differential(Determinant, "determinant rule")
def determinant_differential(node, d):
    """d det A = det(A) tr(A⁻¹ dA)."""
    inner = d(node.arg)
    return None if inner is None else mul(node, Trace(mul(Inverse(node.arg), inner)))


@adjoint(Norm, "norm rule")
def norm_adjoint(node, adj):
    """c = ‖A‖  ⇒  Ā = c̄ A / ‖A‖."""
    yield node.arg, mul(adj, 1 / node, node.arg)


@differential(Norm, "norm rule")
def norm_differential(node, d):
    """d‖A‖ = sum(A ⊙ dA) / ‖A‖."""
    inner = d(node.arg)
    return None if inner is None else mul(1 / node, sum_entries(hadamard(node.arg, inner)))
