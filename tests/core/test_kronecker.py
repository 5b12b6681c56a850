"""The Kronecker, vec and commutation nodes (matcalc.core.kronecker): shapes, values, and
the tidy constructors.  Values are checked against NumPy written out here (np.kron, a
column-major reshape, a commutation matrix built entry by entry in tests/numeric.py)."""
import numpy as np
import sympy
from sympy.matrices.expressions import Identity, MatMul, OneMatrix

import matcalc as mc
from matcalc.core.kronecker import CommutationMatrix, KroneckerProduct, Vec, commutation, kron, vec
from numeric import evaluate

M = mc.matrix


def test_nodes_have_the_right_shapes_and_values():
    P, Q = M("P", 2, 3), M("Q", 4, 1)
    assert kron(P, Q).shape == (8, 3)
    assert vec(P).shape == (6, 1) and commutation(2, 3).shape == (6, 6)
    rng = np.random.default_rng(0)
    values = {"P": rng.normal(size=(2, 3)), "Q": rng.normal(size=(4, 1))}
    np.testing.assert_allclose(evaluate(vec(P), values), values["P"].reshape(-1, 1, order="F"))
    K = evaluate(commutation(2, 3), {})
    np.testing.assert_allclose(K @ values["P"].reshape(-1, 1, order="F"),
                               values["P"].T.reshape(-1, 1, order="F"))
    # the node's own entries agree with the interpreter's
    explicit = np.array(CommutationMatrix(2, 3).as_explicit(), dtype=float)
    np.testing.assert_array_equal(explicit, K)
    np.testing.assert_array_equal(np.array(Vec(M("E", 2, 2)).as_explicit()).ravel(),
                                  np.array(sympy.Matrix(M("E", 2, 2).as_explicit()).T).ravel())


def test_constructors_keep_expressions_tidy():
    m, n = mc.dim("m"), mc.dim("n")
    P, Q, R = M("P", "m", "n"), M("Q", 2, 3), M("R", "n", 1)
    assert kron(Identity(m), Identity(n)) == Identity(m * n)
    assert kron(P, kron(Q, P)) == KroneckerProduct(P, Q, P)          # flattened
    assert kron(3 * P, Q) == MatMul(3, KroneckerProduct(P, Q))        # the scalar in front
    assert kron(Identity(1), P) == P and kron(OneMatrix(1, 1), P) == P
    assert kron(P, None) is None                                      # zero
    assert vec(R) == R and vec(R.T) == R                              # vectors are their own vec
    assert vec(OneMatrix(m, n)) == OneMatrix(m * n, 1)
    assert vec(2 * P) == MatMul(2, Vec(P))
    assert commutation(m, 1) == Identity(m) and commutation(1, n) == Identity(n)
    assert commutation(m, n) == CommutationMatrix(m, n)
    assert CommutationMatrix(m, n).shape == (m * n, m * n)
    assert Vec(P).shape == (m * n, 1)
