"""Softmax, log-sum-exp, and the fused log-softmax / log-sigmoid rules of classifiers.

With S = softmax(Z) row-wise and 1 a column of ones:
dS = S ⊙ (dZ − (S ⊙ dZ) 1 1ᵀ),  d logsumexp(Z) = (S ⊙ dZ) 1,  d log S = dZ − (S ⊙ dZ) 1 1ᵀ.
Fusing log ∘ softmax and log ∘ σ gives the textbook closed forms (Ŷ − Y, σ − y) and stable code.
"""
from sympy import MatAdd, MatMul, OneMatrix

from ...core.algebra import add, hadamard, is_matrix, is_ones, mul, neg, one_minus
from ...core.functions import Log, LogSumExp, Sigmoid, Softmax
from . import adjoint, adjoint_pattern, differential, differential_pattern


def _spread(node_axis, reduced, shape):
    """Broadcast a row/column reduction back to ``shape``: r 1ᵀ (axis 1) or 1 r (axis 0)."""
    rows, cols = shape
    if node_axis == 1:
        return mul(reduced, OneMatrix(1, cols))
    return mul(OneMatrix(rows, 1), reduced)


def _reduce(node_axis, matrix, shape):
    """Row sums M 1 (axis 1) or column sums 1ᵀ M (axis 0)."""
    rows, cols = shape
    if node_axis == 1:
        return mul(matrix, OneMatrix(cols, 1))
    return mul(OneMatrix(1, rows), matrix)


def _sum_out(axis, matrix, shape):
    return _spread(axis, _reduce(axis, matrix, shape), shape)


@adjoint(Softmax, "chain rule through softmax")
def softmax_adjoint(node, adj):
    """S = softmax(Z)  ⇒  Z̄ = S ⊙ (S̄ − ((S̄ ⊙ S) 1) 1ᵀ)."""
    Z = node.arg
    yield Z, hadamard(node, add(adj, neg(_sum_out(node.axis, hadamard(adj, node), Z.shape))))


@differential(Softmax, "chain rule through softmax")
def softmax_differential(node, d):
    """dS = S ⊙ (dZ − ((S ⊙ dZ) 1) 1ᵀ)."""
    dZ = d(node.arg)
    if dZ is None:
        return None
    return hadamard(node, add(dZ, neg(_sum_out(node.axis, hadamard(node, dZ), node.shape))))


@adjoint(LogSumExp, "chain rule through log-sum-exp")
def logsumexp_adjoint(node, adj):
    """c = logsumexp(Z) (per row)  ⇒  Z̄ = (c̄ 1ᵀ) ⊙ softmax(Z)."""
    Z = node.arg
    spread = adj if not is_matrix(adj) else _spread(node.axis, adj, Z.shape)
    yield Z, hadamard(spread, Softmax(Z, node.axis))


@differential(LogSumExp, "chain rule through log-sum-exp")
def logsumexp_differential(node, d):
    """d logsumexp(Z) = (softmax(Z) ⊙ dZ) 1."""
    dZ = d(node.arg)
    if dZ is None:
        return None
    return _reduce(node.axis, hadamard(Softmax(node.arg, node.axis), dZ), node.arg.shape)


def _is_log_softmax(node):
    return isinstance(node, Log) and isinstance(node.arg, Softmax)


@adjoint_pattern(_is_log_softmax, "log-softmax rule")
def log_softmax_adjoint(node, adj):
    """C = log softmax(Z)  ⇒  Z̄ = C̄ − softmax(Z) ⊙ ((C̄ 1) 1ᵀ)  (= Ŷ − Y for C̄ = −Y one-hot)."""
    softmax = node.arg
    Z = softmax.arg
    if not is_matrix(adj):
        adj = mul(adj, OneMatrix(*Z.shape))
    yield Z, add(adj, neg(hadamard(softmax, _sum_out(softmax.axis, adj, Z.shape))))


@differential_pattern(_is_log_softmax, "log-softmax rule")
def log_softmax_differential(node, d):
    """d log softmax(Z) = dZ − ((softmax(Z) ⊙ dZ) 1) 1ᵀ."""
    softmax = node.arg
    dZ = d(softmax.arg)
    if dZ is None:
        return None
    return add(dZ, neg(_sum_out(softmax.axis, hadamard(softmax, dZ), dZ.shape)))


def _is_log_sigmoid(node):
    return isinstance(node, Log) and isinstance(node.arg, Sigmoid)


@adjoint_pattern(_is_log_sigmoid, "log-sigmoid rule")
def log_sigmoid_adjoint(node, adj):
    """C = log σ(Z)  ⇒  Z̄ = C̄ ⊙ (1 − σ(Z))."""
    sigmoid = node.arg
    yield sigmoid.arg, hadamard(adj, one_minus(sigmoid))


@differential_pattern(_is_log_sigmoid, "log-sigmoid rule")
def log_sigmoid_differential(node, d):
    """d log σ(Z) = (1 − σ(Z)) ⊙ dZ."""
    return hadamard(one_minus(node.arg), d(node.arg.arg))


def _complement_sigmoid(expr):
    """Z when expr is 1 − σ(Z), else None."""
    if not isinstance(expr, MatAdd) or len(expr.args) != 2:
        return None
    ones = [a for a in expr.args if is_ones(a)]
    others = [a for a in expr.args if not is_ones(a)]
    if len(ones) != 1 or len(others) != 1:
        return None
    other = others[0]
    if isinstance(other, MatMul):
        coefficient, matrices = other.as_coeff_matrices()
        if coefficient == -1 and len(matrices) == 1 and isinstance(matrices[0], Sigmoid):
            return matrices[0].arg
    return None


def _is_log_one_minus_sigmoid(node):
    return isinstance(node, Log) and _complement_sigmoid(node.arg) is not None


@adjoint_pattern(_is_log_one_minus_sigmoid, "log-sigmoid rule")
def log_one_minus_sigmoid_adjoint(node, adj):
    """C = log(1 − σ(Z))  ⇒  Z̄ = −C̄ ⊙ σ(Z)."""
    Z = _complement_sigmoid(node.arg)
    yield Z, neg(hadamard(adj, Sigmoid(Z)))


@differential_pattern(_is_log_one_minus_sigmoid, "log-sigmoid rule")
def log_one_minus_sigmoid_differential(node, d):
    """d log(1 − σ(Z)) = −σ(Z) ⊙ dZ."""
    Z = _complement_sigmoid(node.arg)
    return neg(hadamard(Sigmoid(Z), d(Z)))
