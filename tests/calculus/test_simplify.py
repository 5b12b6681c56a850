"""The simplifier: canonical forms and textbook factoring (each also checked numerically)."""
import numpy as np
import pytest
from sympy.matrices.expressions import Identity, MatAdd, OneMatrix, ZeroMatrix

import matcalc as mc
from matcalc.calculus.simplify import simplify, size

from numeric import evaluate, infer_dims, random_values

n, m = "n", "m"
x, A, B = mc.rowvec("x", n), mc.matrix("A", n, n), mc.matrix("B", n, n)
X, Y = mc.matrix("X", n, m), mc.matrix("Y", n, m)


def agree(before, after, sizes=dict(n=3, m=4, N=5, K=3)):
    values = random_values(before, sizes, seed=1, positive=("P",))
    dims = infer_dims(before, values)
    np.testing.assert_allclose(np.asarray(evaluate(before, values, dims), dtype=float),
                               np.asarray(evaluate(after, values, dims), dtype=float), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("before, expected", [
    (x * A + x * A.T, x * (A + A.T)),                       # common left factor
    (A * x.T + B * x.T, (A + B) * x.T),                     # common right factor
    ((A * B).T, B.T * A.T),                                 # transpose pushed onto symbols
    (((A + B) * x.T).T, x * (A.T + B.T)),
    (mc.hadamard(X, mc.ones(n, m)), X),                     # ⊙ 1 is the identity
    (Identity(mc.dim(n)) * A, A),
    (MatAdd(A * x.T, -A * x.T), ZeroMatrix(mc.dim(n), 1)),
    (mc.hadamard(Y, mc.ones(n, m) - X) + mc.hadamard(X, Y - mc.ones(n, m)), Y - X),   # cancels
    (X / 3 - Y / 3, (X - Y) / 3),                           # common scalar
])
def test_rewrites(before, expected):
    result = simplify(before)
    assert result == simplify(expected)
    assert size(result) <= size(before)
    agree(before, result)


def test_ones_products_and_onehot_rows():
    N, K = mc.dim("N"), mc.dim("K")
    inner = simplify(mc.ones(1, "N") * mc.ones("N", 1))       # 1ᵀ1 = N
    assert inner.shape == (1, 1) and inner.as_coeff_mmul()[0] == N
    Yh = mc.matrix("Y", "N", "K", onehot=True)
    assert simplify(Yh * mc.ones("K", 1)) == OneMatrix(N, 1)
    plain = mc.matrix("Y", "N", "K")
    assert simplify(plain * mc.ones("K", 1)) != OneMatrix(N, 1)


def test_symmetric_transpose_and_inverse():
    S = mc.matrix("S", n, n, symmetric=True)
    assert simplify(S.T * A) == S * A
    assert simplify(mc.inv(S).T) == mc.inv(S)
    assert simplify(mc.inv(mc.inv(A))) == A


def test_sign_moves_into_sum():
    w, Xd, y = mc.rowvec("w", "d"), mc.matrix("X", n, "d"), mc.rowvec("y", n)
    result = simplify(-(y - w * Xd.T) * Xd)
    assert result == simplify((w * Xd.T - y) * Xd)
    assert result.as_coeff_mmul()[0] == 1


def test_idempotent():
    e = simplify(x * A * x.T + x * A.T * x.T)
    assert simplify(e) == e


def test_sum_of_identity_hadamard_is_trace():
    # sum(I ⊙ A) = tr(A): the adjoint of tr(A) in tr(tr(A) A) (SymPy's test_derivatives L356)
    S = mc.matrix("S", n, n)
    assert simplify(mc.sum(mc.hadamard(Identity(mc.dim(n)), A))) == mc.trace(A)
    before = mc.sum(mc.hadamard(Identity(mc.dim(n)), A, S))
    assert simplify(before) == mc.trace(mc.hadamard(A, S))
    agree(before, simplify(before))
    assert simplify(mc.gradient(mc.trace(mc.trace(A) * A), A)) == 2 * mc.trace(A) * Identity(mc.dim(n))


def test_transpose_of_elementwise_of_transpose():
    # f(Zᵀ)ᵀ = f(Z): SymPy writes y.applyfunc(sin).T as yᵀ.applyfunc(sin) (its L412)
    before = mc.tanh(X.T).T
    assert simplify(before) == mc.tanh(X)
    agree(before, simplify(before))
    assert simplify(mc.tanh(X).T) == mc.tanh(X).T      # textbooks write f(Z)ᵀ, not f(Zᵀ)
