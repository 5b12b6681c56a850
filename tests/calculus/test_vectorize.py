"""Matrix-by-matrix Jacobians and Hessians in the vec layout (issue 11).

Convention: vec stacks columns, numerator layout, vec(dY) = J vec(dX); the denominator
layout is Jᵀ.  Closed forms are Magnus & Neudecker's (*Matrix Differential Calculus*, 3rd
ed., ch. 9, Table 9.2 / 10.2) and the Matrix Cookbook's (Petersen & Pedersen 2012, §10.2):
vec(AXB) = (Bᵀ ⊗ A) vec X, d vec(X⁻¹) = −(X⁻ᵀ ⊗ X⁻¹) d vec X, vec(Xᵀ) = K vec X.

Every case is checked against central differences of the function itself, with
``tests/numeric.py``'s independent interpreter (which flattens column by column), on
concrete non-square shapes, shapes with a 1 in them, and symbolic dimensions, in both
layouts; and ``mc.compile`` of every result agrees with the interpreter.
"""
from __future__ import annotations

import pytest
from sympy.matrices.expressions import Identity, MatrixExpr, OneMatrix, ZeroMatrix

import matcalc as mc
from matcalc.calculus.simplify import simplify, transposed
from matcalc.calculus.vectorize import READ_OFF
from matcalc.core.kronecker import CommutationMatrix, KroneckerProduct, Vec
from matcalc.output.latex import latex
from numeric import check_compiled, check_hessian, check_jacobian, random_values

M = mc.matrix
SIZES = dict(m=3, n=2, p=4, q=5)
# (m, n, p, q): X is m×n, A p×m, B n×q.  Non-square; with a 1; symbolic.
DIMENSIONS = [(3, 2, 4, 5), (2, 3, 1, 4), (3, 1, 2, 2), ("m", "n", "p", "q")]


def _dims(dimensions):
    return {mc.dim(k): v for k, v in SIZES.items()}


def _cases(m, n, p, q):
    """name → (Y, X, names of symbols given invertible (SPD) values)."""
    X, A, B = M("X", m, n), M("A", p, m), M("B", n, q)
    C, D = M("C", p, m), M("D", n, q)
    G, H = M("G", p, n), M("H", m, q)
    S = M("S", m, m)
    b, c, x, u = M("b", n, 1), M("c", 1, m), M("x", m, 1), M("u", 1, q)
    W = M("W", n, q)
    return {
        "A X B": (A * X * B, X, ()),
        "X B": (X * B, X, ()),
        "A X": (A * X, X, ()),
        "X": (X, X, ()),
        "Xᵀ": (X.T, X, ()),
        "Bᵀ Xᵀ Aᵀ": (B.T * X.T * A.T, X, ()),
        "a sum of products": (A * X * B + C * X * D + G * X.T * H, X, ()),
        "X⁻¹": (mc.inv(S), S, ("S",)),
        "A X⁻¹ H": (A * mc.inv(S) * H, S, ("S",)),
        "X³": (S ** 3, S, ()),
        "X Xᵀ": (X * X.T, X, ()),
        "F ⊙ X": (mc.hadamard(M("F", m, n), X), X, ()),
        "X ⊙ X": (mc.hadamard(X, X), X, ()),
        "P ⊙ A X B": (mc.hadamard(M("P", p, q), A * X * B), X, ()),
        "det(X) Q": (mc.det(S) * M("Q", p, q), S, ("S",)),
        "tr(X R) Q": (mc.trace(S * M("R", m, m)) * M("Q", p, q), S, ()),
        "sum(X) Q": (mc.sum(X) * M("Q", p, q), X, ()),
        "‖X‖ X": (mc.norm(X) * X, X, ()),
        "log det(X) F": (mc.logdet(S) * M("F", m, n), S, ("S",)),
        "exp(X)": (mc.exp(X), X, ()),
        "tanh(A X)": (mc.tanh(A * X), X, ()),
        "σ(X B)": (mc.sigmoid(X * B), X, ()),
        "softmax(X W) wrt X": (mc.softmax(X * W), X, ()),
        "softmax(X W) wrt W": (mc.softmax(X * W), W, ()),
        "logsumexp(X W)": (mc.logsumexp(X * W), X, ()),
        "diag(σ(X x))": (mc.diag(mc.sigmoid(S * x)), S, ()),
        "L diag(σ(X x)) R": (M("L", p, m) * mc.diag(mc.sigmoid(S * x)) * M("R", m, q), S, ()),
        # vector-valued functions of a matrix, matrix-valued functions of a vector, scalars
        "X b": (X * b, X, ()),
        "c X": (c * X, X, ()),
        "exp(X) b": (mc.exp(X) * b, X, ()),
        "tr(Aᵀ G Xᵀ)": (mc.trace(A.T * G * X.T), X, ()),
        "exp(c X b)": (mc.exp(c * X * b), X, ()),
        "x u": (x * u, x, ()),
        "L diag(x) R": (M("L", p, m) * mc.diag(x) * M("R", m, q), x, ()),
    }


CASE_NAMES = list(_cases(*DIMENSIONS[0]))


@pytest.mark.parametrize("dimensions", DIMENSIONS, ids=lambda d: "x".join(map(str, d)))
@pytest.mark.parametrize("name", CASE_NAMES)
def test_jacobian_against_finite_differences(name, dimensions):
    Y, X, spd = _cases(*dimensions)[name]
    values = random_values(Y, SIZES, seed=len(name), spd=spd)
    for layout in ("numerator", "denominator"):
        J = mc.jacobian(Y, X, layout=layout)
        rows = Y.shape[0] * Y.shape[1] if isinstance(Y, MatrixExpr) else 1
        expected_shape = (rows, X.shape[0] * X.shape[1])
        assert J.shape == (expected_shape if layout == "numerator" else expected_shape[::-1])
        assert check_jacobian(Y, X, J, values, layout=layout) < 1e-6, (name, layout, mc.to_text(J))
        check_compiled(J, values, _dims(dimensions), rtol=1e-9)


# ---------------------------------------------------------------- the textbook forms

m, n, p, q = (mc.dim(s) for s in "mnpq")
X, A, B = M("X", "m", "n"), M("A", "p", "m"), M("B", "n", "q")


def test_the_product_rule_gives_a_kronecker_product():
    """vec(AXB) = (Bᵀ ⊗ A) vec X (Magnus & Neudecker, Theorem 2.2)."""
    J = mc.jacobian(A * X * B, X)
    assert J == KroneckerProduct(B.T, A)
    assert mc.to_text(J) == "Bᵀ ⊗ A"
    assert latex(J) == r"B^{\top} \otimes A"
    assert mc.to_text(mc.jacobian(A * X * B, X, layout="denominator")) == "B ⊗ Aᵀ"
    # an absent factor is the identity of the right size
    assert mc.jacobian(A * X, X) == KroneckerProduct(Identity(n), A)
    assert mc.jacobian(X * B, X) == KroneckerProduct(B.T, Identity(m))
    assert mc.jacobian(X, X) == Identity(m * n)


def test_a_sum_of_products():
    C, D = M("C", "p", "m"), M("D", "n", "q")
    J = mc.jacobian(A * X * B + C * X * D, X)
    assert mc.to_text(J) == "Bᵀ ⊗ A + Dᵀ ⊗ C"
    assert mc.to_text(mc.jacobian(X * B + X * D, X)) == "(B + D)ᵀ ⊗ I"


def test_a_transpose_is_the_commutation_matrix():
    """vec(Xᵀ) = K₍m,n₎ vec X, and A Xᵀ B ⇒ (Bᵀ ⊗ A) K (Magnus & Neudecker, Theorem 3.9)."""
    assert mc.jacobian(X.T, X) == CommutationMatrix(m, n)
    assert mc.to_text(mc.jacobian(X.T, X)) == "K₍m,n₎"
    assert latex(mc.jacobian(X.T, X)) == "K_{m,n}"
    C, D = M("C", "q", "n"), M("D", "m", "p")
    J = mc.jacobian(C * X.T * D, X)
    assert mc.to_text(J) == "(Dᵀ ⊗ C) K₍m,n₎"
    assert mc.to_text(mc.jacobian(C * X.T * D, X, layout="denominator")) == "K₍n,m₎ (D ⊗ Cᵀ)"


def test_the_inverse():
    """d vec(X⁻¹) = −(X⁻ᵀ ⊗ X⁻¹) d vec X (Magnus & Neudecker, ch. 9 Table 9.2)."""
    S = M("X", "n", "n")
    J = mc.jacobian(mc.inv(S), S)
    assert mc.to_text(J) == "−(X⁻ᵀ ⊗ X⁻¹)"
    assert latex(J) == r"- (X^{-\top} \otimes X^{-1})"
    assert mc.to_text(mc.jacobian(mc.inv(S), S, layout="denominator")) == "−(X⁻¹ ⊗ X⁻ᵀ)"


def test_entrywise_functions_and_hadamard_products_are_diagonal():
    """vec(F ⊙ dX) = diag(vec F) vec dX; d exp(X) = exp(X) ⊙ dX."""
    F = M("F", "m", "n")
    assert mc.to_text(mc.jacobian(mc.hadamard(F, X), X)) == "diag(vec(F))"
    assert mc.to_text(mc.jacobian(mc.exp(X), X)) == "diag(vec(exp(X)))"
    assert latex(mc.jacobian(mc.exp(X), X)) == r"\operatorname{diag}(\operatorname{vec}(\exp(X)))"
    P = M("P", "p", "q")
    assert mc.to_text(mc.jacobian(mc.hadamard(P, A * X * B), X)) == "diag(vec(P)) (Bᵀ ⊗ A)"


def test_scalar_pieces_are_outer_products():
    """tr(R dX) = vec(Rᵀ)ᵀ vec dX, so d(tr(XR) Q) = vec(Q) vec(Rᵀ)ᵀ vec dX; sum(dX) = 𝟏ᵀ vec dX."""
    S, R, Q = M("X", "m", "m"), M("R", "m", "m"), M("Q", "p", "q")
    assert mc.to_text(mc.jacobian(mc.trace(S * R) * Q, S)) == "vec(Q) vec(Rᵀ)ᵀ"
    assert latex(mc.jacobian(mc.trace(S * R) * Q, S)) == \
        r"\operatorname{vec}(Q) {\operatorname{vec}(R^{\top})}^{\top}"
    assert mc.to_text(mc.jacobian(mc.sum(X) * Q, X)) == "vec(Q) 𝟏ᵀ"
    assert mc.to_text(mc.jacobian(mc.det(S) * Q, S)) == "det(X) vec(Q) vec(X⁻ᵀ)ᵀ"
    # a scalar function: the Jacobian is the row vec(∇f)ᵀ
    G = M("G", "p", "n")
    assert mc.to_text(mc.jacobian(mc.trace(A.T * G * X.T), X)) == "vec(Aᵀ G)ᵀ"


def test_vectors_are_their_own_vec():
    """For a vector X or Y the vec layout is the ordinary one."""
    b, c = M("b", "n", 1), M("c", 1, "m")
    assert mc.to_text(mc.jacobian(X * b, X)) == "bᵀ ⊗ I"
    assert mc.to_text(mc.jacobian(c * X, X)) == "I ⊗ c"
    x, u = M("x", "m", 1), M("u", 1, "q")
    assert mc.to_text(mc.jacobian(x * u, x)) == "uᵀ ⊗ I"


def test_the_zero_jacobian():
    Z = M("Z", "p", "q")
    assert mc.jacobian(Z, X) == ZeroMatrix(p * q, m * n)


# ---------------------------------------------------------------- Hessians

def _hessians(m, n, p):
    W, S, A, Y = M("W", m, n), M("S", m, m), M("A", p, m), M("Y", p, n)
    X = M("X", m, m)
    return {
        "tr(Wᵀ S W)": (mc.trace(W.T * S * W), W, ()),
        "‖A W − Y‖²": (mc.norm(A * W - Y) ** 2, W, ()),
        "sum(exp(W))": (mc.sum(mc.exp(W)), W, ()),
        "log det X": (mc.logdet(X), X, ("X",)),
        "tr(X⁻¹)": (mc.trace(mc.inv(X)), X, ("X",)),
        "sum(σ(A W))": (mc.sum(mc.sigmoid(A * W)), W, ()),
        "logsumexp loss": (mc.sum(mc.logsumexp(A * W)), W, ()),
    }


@pytest.mark.parametrize("dimensions", [(3, 2, 4), (2, 1, 3), ("m", "n", "p")], ids=lambda d: "x".join(map(str, d)))
@pytest.mark.parametrize("name", list(_hessians(3, 2, 4)))
def test_hessian_against_finite_differences(name, dimensions):
    f, W, spd = _hessians(*dimensions)[name]
    values = random_values(f, SIZES, seed=len(name), spd=spd)
    H = mc.hessian(f, W)
    size = W.shape[0] * W.shape[1]
    assert H.shape == (size, size)
    assert check_hessian(f, W, H, values) < 1e-5, (name, mc.to_text(H))
    check_compiled(H, values, _dims(dimensions), rtol=1e-9)


def test_hessian_of_a_quadratic_form_in_a_matrix():
    """tr(Wᵀ S W) ⇒ ∇ = (S + Sᵀ) W ⇒ H = I ⊗ (S + Sᵀ) (Magnus & Neudecker, ch. 10)."""
    W, S = M("W", "m", "n"), M("S", "m", "m")
    H = mc.hessian(mc.trace(W.T * S * W), W)
    assert H == simplify(KroneckerProduct(Identity(n), S + S.T))
    assert mc.to_text(H) == "I ⊗ (S + Sᵀ)"
    assert latex(H) == r"I_{n} \otimes (S + S^{\top})"
    Y, Ap = M("Y", "p", "n"), M("A", "p", "m")
    assert mc.to_text(mc.hessian(mc.norm(Ap * W - Y) ** 2, W)) == "2 (I ⊗ (Aᵀ A))"


def test_hessian_of_log_det():
    """d vec(X⁻ᵀ) = −(X⁻¹ ⊗ X⁻ᵀ) K d vec X."""
    S = M("X", "n", "n")
    assert mc.to_text(mc.hessian(mc.logdet(S), S)) == "−(X⁻¹ ⊗ X⁻ᵀ) K₍n,n₎"


# ---------------------------------------------------------------- derivations

def test_the_read_off_is_a_step():
    d = mc.derive(A * X * B, X, kind="jacobian")
    last = d.steps[-1]
    assert last.rule == READ_OFF == "read off the Jacobian (vec layout)"
    assert mc.to_text(last.before) == "A dX B" and mc.to_text(last.after) == "Bᵀ ⊗ A"
    assert str(d) == "jacobian of y with respect to X\n  y = A X B\n  ∂y/∂X = Bᵀ ⊗ A"
    tex = d.to_latex()
    assert r"\text{read off the Jacobian (vec layout)}" in tex
    assert r"\frac{\partial y}{\partial X} &= B^{\top} \otimes A" in tex
    assert r"\operatorname{vec}(\mathrm{d}y) = J \operatorname{vec}(\mathrm{d}X)" in tex
    assert r"\mathbb{R}^{p q \times m n}" in tex


def test_the_hessian_derivation_shows_the_vec_read_off():
    W, S = M("W", "m", "n"), M("S", "m", "m")
    tex = mc.derive(mc.trace(W.T * S * W), W, kind="hessian").to_latex()
    assert r"\nabla^{2}_{W} L &= I_{n} \otimes (S + S^{\top}) && \text{read off the Jacobian (vec layout)}" in tex
    assert "The Hessian is in the vec layout" in tex


# ---------------------------------------------------------------- simplifier identities

def test_simplifier_identities():
    P, Q, R = M("P", "m", "n"), M("Q", "p", "q"), M("R", "n", "k")
    x, y = M("x", "m", 1), M("y", 1, "m")
    assert simplify(KroneckerProduct(Identity(m), Identity(n))) == Identity(m * n)
    assert simplify(KroneckerProduct(P, Q).T) == KroneckerProduct(P.T, Q.T)
    assert transposed(KroneckerProduct(P, Q)) == KroneckerProduct(P.T, Q.T)
    assert simplify(KroneckerProduct(3 * P, 2 * Q)) == simplify(6 * KroneckerProduct(P, Q))
    assert simplify(Vec(x)) == x and simplify(Vec(y)) == y.T
    assert simplify(Vec(2 * P)) == simplify(2 * Vec(P))
    assert simplify(CommutationMatrix(m, 1)) == Identity(m)
    assert simplify(CommutationMatrix(1, n)) == Identity(n)
    assert simplify(CommutationMatrix(m, n).T) == CommutationMatrix(n, m)
    assert simplify(CommutationMatrix(m, n) * CommutationMatrix(n, m)) == Identity(m * n)
    # the mixed product: (P ⊗ Q)(R ⊗ Qᵀ) = P R ⊗ Q Qᵀ
    assert simplify(KroneckerProduct(P, Q) * KroneckerProduct(R, Q.T)) == KroneckerProduct(P * R, Q * Q.T)
    assert simplify(KroneckerProduct(OneMatrix(1, 1), P)) == P
