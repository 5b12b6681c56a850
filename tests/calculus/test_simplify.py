"""The simplifier: canonical forms and textbook factoring (each also checked numerically)."""
import numpy as np
import pytest
from sympy import preorder_traversal
from sympy.matrices.expressions import Identity, MatAdd, OneMatrix, ZeroMatrix

import matcalc as mc
from matcalc.calculus.simplify import simplify, size

from matcalc.core import algebra
from matcalc.core.functions import SumAll
from matcalc.output.text import to_text
from numeric import check_gradient, check_hessian, check_jacobian, evaluate, infer_dims, random_values

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


# ------------------------------------------------------------------ textbook identities, 1×1 artefacts

def gradient_agrees(f, variable, G, positive=(), seed=0):
    """⟨G, V⟩ against the central difference of f along a random V."""
    values = random_values(f, dict(n=4, N=5, d=3), seed=seed, positive=positive)
    assert check_gradient(f, variable, G, values, seed=seed) < 1e-6


def gaussian_nll(rows, logdet):
    """½ log det S + ½ (x − m)ᵀ S⁻¹ (x − m) for one sample, with column or row vectors."""
    S = mc.matrix("S", n, n, spd=True)
    xs, ms = (mc.rowvec("x", n), mc.rowvec("m", n)) if rows else (mc.colvec("x", n), mc.colvec("m", n))
    r = xs - ms
    quadratic = r * mc.inv(S) * r.T if rows else r.T * mc.inv(S) * r
    half_logdet = mc.logdet(S) / 2 if logdet else mc.log(mc.det(S)) / 2
    return half_logdet + quadratic / 2, S, r


@pytest.mark.parametrize("rows", [False, True])
@pytest.mark.parametrize("logdet", [True, False])
def test_gaussian_nll_covariance_gradient_is_textbook(rows, logdet):
    # ∂/∂S [½ log det S + ½ rᵀS⁻¹r] = ½ (S⁻¹ − S⁻¹ r rᵀ S⁻¹), r = x − m (row form: r → rᵀ);
    # the minus stays outside the outer product instead of turning r into m − x
    f, S, r = gaussian_nll(rows, logdet)
    G = mc.gradient(f, S)
    outer = "(x − m)ᵀ (x − m)" if rows else "(x − m) (x − m)ᵀ"
    assert to_text(G) == f"(1/2) (S⁻¹ − S⁻¹ {outer} S⁻¹)"
    column = r.T if rows else r
    Si = mc.inv(S)
    assert G == simplify((Si - Si * column * column.T * Si) / 2)
    gradient_agrees(f, S, G)


def test_gaussian_nll_steps_have_no_sum_of_one():
    # ∂L/∂(½ log det S) of ½ log det S · 1 + …: sum(1 ⊙ 1) is the number 1, even unsimplified
    f = mc.parse("logdet(S)/2 + (x - m) @ inv(S) @ (x - m).T / 2",
                 shapes={"S": (n, n), "x": (1, n), "m": (1, n)}, spd=["S"])
    derivation = mc.derive(f, [s for s in f.free_symbols if getattr(s, "name", "") == "S"])
    for step in derivation.steps:
        for e in (step.before, step.after):
            assert not any(isinstance(node, SumAll) and algebra.is_one(node.arg) for node in preorder_traversal(e))


def test_outer_product_of_a_negated_difference_takes_the_minus():
    # Cookbook (130): ∂/∂x (x − a)/‖x − a‖ = I/‖x − a‖ − (x − a)(x − a)ᵀ/‖x − a‖³
    xc, a = mc.colvec("x", n), mc.colvec("a", n)
    r = xc - a
    J = mc.jacobian(r / mc.norm(r), xc)
    assert to_text(J) == "(1/‖x − a‖) (I − (1/‖x − a‖²) (x − a) (x − a)ᵀ)"
    values = random_values(r, dict(n=4), seed=3)
    assert check_jacobian(r / mc.norm(r), xc, J, values) < 1e-6
    # a product with (a − x) and (x − a)ᵀ gets one orientation and the sign outside
    before = mc.matrix("B", n, n) * (a - xc) * r.T
    after = simplify(before)
    assert after == simplify(-mc.matrix("B", n, n) * r * r.T)
    agree(before, after)


N, d = "N", "d"
Xd, wd = mc.matrix("X", N, d), mc.colvec("w", d)
ones_N = mc.ones(N, 1)


@pytest.mark.parametrize("before", [
    mc.hadamard(mc.exp(Xd * wd), mc.reciprocal(mc.exp(Xd * wd) + ones_N)),     # exp(z) ⊘ (exp(z) + 𝟏)
    mc.reciprocal(ones_N + mc.exp(-(Xd * wd))),                              # 1 ⊘ (𝟏 + exp(−z))
    mc.parse("exp(X @ w) / (1 + exp(X @ w))", shapes={"X": (N, d), "w": (d, 1)}),
    mc.parse("1 / (1 + exp(-(X @ w)))", shapes={"X": (N, d), "w": (d, 1)}),
])
def test_the_logistic_function_is_recognised(before):
    after = simplify(before)
    assert after == mc.sigmoid(Xd * wd)
    agree(before, after, sizes=dict(N=5, d=3))


def test_one_over_one_plus_exp_is_sigma_of_minus():
    # 1 ⊘ (𝟏 + exp(z)) = σ(−z), and its square σ(−z)∘²
    z = Xd * wd
    assert simplify(mc.reciprocal(ones_N + mc.exp(z))) == mc.sigmoid(-z)
    before = mc.power(ones_N + mc.exp(z), -2)
    assert simplify(before) == mc.power(mc.sigmoid(-z), 2)
    agree(before, simplify(before), sizes=dict(N=5, d=3))


@pytest.mark.parametrize("loss, expected", [
    ("sum(log(1 + exp(X @ w)))", "Xᵀ σ(X w)"),                 # softplus′ = σ
    ("sum(log(exp(X @ w) + 1))", "Xᵀ σ(X w)"),
    ("sum(softplus(X @ w))", "Xᵀ σ(X w)"),
    ("sum(log(1 + exp(X @ w)) - y * (X @ w))", "Xᵀ (σ(X w) − y)"),   # logistic regression, ESL (4.21)
    ("sum(log(1 + exp(-(X @ w))))", "−Xᵀ σ(−X w)"),            # d softplus(−z) = −σ(−z) dz
    ("sum(1 / (1 + exp(-(X @ w))))", "Xᵀ (σ(X w) ⊙ (𝟏 − σ(X w)))"),   # σ′ = σ(1 − σ)
])
def test_softplus_like_losses_differentiate_to_sigma(loss, expected):
    f = mc.parse(loss, shapes={"X": (N, d), "w": (d, 1), "y": (N, 1)})
    w_ = next(s for s in f.free_symbols if getattr(s, "name", "") == "w")
    G = mc.gradient(f, w_)
    assert to_text(G) == expected
    gradient_agrees(f, w_, G)


@pytest.mark.parametrize("loss", ["sum(log(1 + exp(X @ w + b)))", "sum((X @ w + b - y) ** 2)"])
def test_a_one_by_one_bias_shows_as_its_entry(loss):
    # a 1×1 b broadcast over N rows is the scalar b: b 𝟏, never tr(b) 𝟏
    f = mc.parse(loss, shapes={"X": (N, d), "w": (d, 1), "y": (N, 1), "b": (1, 1)})
    assert "b 𝟏" in to_text(f) and "tr(" not in to_text(f)
    symbols = {s.name: s for s in f.free_symbols if hasattr(s, "name")}
    gw, gb = mc.gradient(f, [symbols["w"], symbols["b"]])
    if "log" in loss:
        assert (to_text(gw), to_text(gb)) == ("Xᵀ σ(X w + b 𝟏)", "𝟏ᵀ σ(X w + b 𝟏)")
    else:   # ∂/∂b ‖Xw + b𝟏 − y‖² = 2 𝟏ᵀ(Xw + b𝟏 − y)
        assert (to_text(gw), to_text(gb)) == ("2 Xᵀ (X w + b 𝟏 − y)", "2 𝟏ᵀ (X w + b 𝟏 − y)")
    gradient_agrees(f, symbols["w"], gw)
    gradient_agrees(f, symbols["b"], gb)


def test_a_scalar_bias_gradient_stays_one_sum():
    # ∂/∂c sum(σ…) and ∂/∂c ‖Xw + c𝟏 − y‖² = 2 sum(Xw + c𝟏 − y): one sum, not 2Nc + 2 sum(Xw) − 2 sum(y)
    c, y = mc.scalar("c"), mc.colvec("y", N)
    f = mc.sum(mc.log(1 + mc.exp(Xd * wd + c * ones_N)))
    assert to_text(mc.gradient(f, c)) == "sum(σ(X w + c 𝟏))"
    gradient_agrees(f, c, mc.gradient(f, c))
    f = mc.norm(Xd * wd + c * ones_N - y) ** 2
    assert to_text(mc.gradient(f, c)) == "2·sum(X w + c 𝟏 − y)"
    gradient_agrees(f, c, mc.gradient(f, c))


def test_trace_and_sum_of_a_one_by_one():
    # tr(b) = sum(b) = b for a 1×1 b; sum(c·1) = c; sum(Mᵀ) = sum(M), so sum(A − Aᵀ) = 0
    b = mc.matrix("b", 1, 1)
    assert simplify(mc.trace(3 * b)) == 3 * mc.sum(b)
    assert simplify(mc.trace(Identity(1))) == 1
    assert simplify(mc.sum(A - A.T)) == 0
    assert simplify(mc.sum(A + Identity(mc.dim(n)))) == mc.dim(n) + mc.sum(A)   # sum(I) = n
    kept = mc.sum(X + mc.ones(n, m))
    assert simplify(kept) == kept            # mn + sum(X) would be longer
    for before in (mc.sum(A - A.T), mc.sum(A + Identity(mc.dim(n))), mc.trace(3 * b)):
        agree(before, simplify(before))


def test_one_by_one_hadamard_products_multiply_as_numbers():
    # seed 001: δ⁽²⁾ = (ŷ − y) ŷ (1 − ŷ) for a 1×1 output; transposing keeps the order
    v, W = mc.colvec("v", 2), mc.matrix("W", 2, 1)
    y = mc.matrix("y", 1, 1)
    yhat = mc.sigmoid(W.T * v)
    E = (y - yhat).T * (y - yhat) / 2
    G = mc.gradient(E, W)
    assert to_text(G) == "v (σ(Wᵀ v) − y) σ(Wᵀ v) (1 − σ(Wᵀ v))"
    gradient_agrees(E, W, G)
    t = mc.matrix("t", 1, 1)
    assert simplify(mc.hadamard(mc.power(t, 2), t)) == mc.power(t, 3)     # t∘² ⊙ t = t∘³
    before = mc.hadamard(mc.power(t, 2), t, y)
    agree(before, simplify(before))


def test_a_scalar_moves_into_an_inverse_only_when_that_is_shorter():
    # (1/n)(λI + (1/n) M)⁻¹ = (M + nλI)⁻¹; 2 det(M) M⁻¹ keeps its 2 outside; λ (unknown sign) too
    lam, nn = mc.scalar("lambda"), mc.dim(n)
    M, I = A.T * A, Identity(nn)
    before = (1 / nn) * mc.inv(lam * I + M / nn) * x.T
    assert simplify(before) == simplify(mc.inv(M + nn * lam * I) * x.T)
    agree(before, simplify(before))
    assert simplify(2 * mc.det(A) * mc.inv(A)) == 2 * mc.det(A) * mc.inv(A)
    kept = simplify(lam * mc.inv(I + M))
    assert kept == lam * mc.inv(simplify(I + M))


def test_a_one_by_one_product_takes_its_shorter_orientation():
    # ∂ log(xᵀAx)/∂x = (A + Aᵀ) x / (xᵀAx): xᵀAᵀx is xᵀAx, so the two terms share one factor
    xc = mc.colvec("x", n)
    f = mc.log(xc.T * A * xc)
    G = mc.gradient(f, xc)
    assert to_text(G) == "(A + Aᵀ) x (1 ⊘ (xᵀ A x))"
    gradient_agrees(f, xc, G, positive=("A", "x"))      # xᵀAx > 0
    u = mc.colvec("u", n)
    assert simplify(xc.T * u) == xc.T * u          # a tie keeps the product as written


def test_logistic_hessian_from_log_one_plus_exp():
    # ESL (4.23): ∇² Σ log(1 + exp(xᵢᵀw)) = Xᵀ diag(p ⊙ (1 − p)) X, p = σ(Xw)
    f = mc.sum(mc.log(1 + mc.exp(Xd * wd)))
    H = mc.hessian(f, wd)
    p = mc.sigmoid(Xd * wd)
    assert H == simplify(Xd.T * mc.diag(mc.hadamard(p, mc.ones(N, 1) - p)) * Xd)
    assert check_hessian(f, wd, H, random_values(f, dict(N=5, d=3), seed=2)) < 1e-5
