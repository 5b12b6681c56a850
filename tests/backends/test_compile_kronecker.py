"""Compiled Kronecker products, vec and commutation matrices (matcalc.backends.kronecker):
nothing is formed that the result does not need.  Values are checked against NumPy written
out here (np.kron, and K built entry by entry by tests/numeric.py)."""
import numpy as np

import matcalc as mc
from matcalc.core.kronecker import CommutationMatrix, KroneckerProduct
from numeric import check_compiled, evaluate

M = mc.matrix
m, n, p, q = (mc.dim(s) for s in "mnpq")
X, A, B = M("X", "m", "n"), M("A", "p", "m"), M("B", "n", "q")


def test_compiled_commutation_is_a_permutation():
    """(Dᵀ ⊗ C) K applies K as a column permutation: no dense K, no product with it."""
    C, D = M("C", "q", "n"), M("D", "m", "p")
    fn = mc.compile(mc.jacobian(C * X.T * D, X))
    assert "np.eye" not in fn.source and "@" not in fn.source
    assert "[:, " in fn.source and fn.source.count("np.kron") == 1
    rng = np.random.default_rng(1)
    c, d = rng.normal(size=(5, 2)), rng.normal(size=(3, 4))
    K = evaluate(CommutationMatrix(3, 2), {})
    np.testing.assert_allclose(fn(C=c, D=d), np.kron(d.T, c) @ K)


def test_compiled_kronecker_times_a_matrix_is_not_formed():
    """(Bᵀ ⊗ A) V is computed as vec(A V B) column by column: np.kron is never called."""
    V = M("V", m * n, "k")
    fn = mc.compile(mc.jacobian(A * X * B, X) * V)
    assert "np.kron" not in fn.source
    rng = np.random.default_rng(2)
    a, b, v = rng.normal(size=(4, 3)), rng.normal(size=(2, 5)), rng.normal(size=(6, 3))
    np.testing.assert_allclose(fn(A=a, B=b, V=v), np.kron(b.T, a) @ v)
    left = mc.compile(M("U", "k", p * q) * mc.jacobian(A * X * B, X))
    assert "np.kron" not in left.source
    u = rng.normal(size=(2, 20))
    np.testing.assert_allclose(left(A=a, B=b, U=u), u @ np.kron(b.T, a))


def test_compiled_diag_of_vec_is_a_scaling():
    P = M("P", "p", "q")
    fn = mc.compile(mc.jacobian(mc.hadamard(P, A * X * B), X))
    assert "np.diag" not in fn.source and 'reshape(-1, 1, order="F")' in fn.source


def test_kronecker_of_three_and_a_lone_commutation_matrix():
    P, Q, R = M("P", 2, 3), M("Q", 3, 1), M("R", 1, 2)
    rng = np.random.default_rng(3)
    values = {"P": rng.normal(size=(2, 3)), "Q": rng.normal(size=(3, 1)), "R": rng.normal(size=(1, 2))}
    check_compiled(KroneckerProduct(P, Q, R), values)
    check_compiled(KroneckerProduct(P, Q) * M("V", 3, 2), dict(values, V=rng.normal(size=(3, 2))))
    fn = mc.compile(CommutationMatrix(m, n))
    assert "@" not in fn.source
    np.testing.assert_array_equal(fn(m=3, n=4), evaluate(CommutationMatrix(3, 4), {}))
