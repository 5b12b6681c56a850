"""A catalogue of textbook derivative identities, as data, and the checker that runs it.

Each :class:`Entry` is one published formula: where it comes from (Matrix Cookbook
equation numbers refer to the version of 15 November 2012; the seed documents are
``shared/seeds/000…002``; ESL is Hastie, Tibshirani & Friedman, *The Elements of
Statistical Learning*, 2nd ed.; PRML is Bishop, *Pattern Recognition and Machine
Learning*), the function, the variable, the kind of derivative, the claimed formula, and
the verdict matcalc reaches.  Not every published formula is right: an entry whose
``expect`` is not ``"holds"`` records a finding, with the reason in ``finding``.

``verify_catalogue()`` checks every entry with :func:`matcalc.verify` and prints a table;
a verdict that differs from ``expect`` is a regression.  ``python -m matcalc.apps.catalogue
--markdown docs/catalogue.md`` writes the browsable report.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache

import sympy
from sympy import HadamardProduct, Identity, OneMatrix

from .. import files
from ..core import functions as F
from .parse import parse
from ..core.symbols import colvec, dim, matrix, rowvec, scalar
from .verify import VerificationResult, verify

__all__ = ["Entry", "entries", "verify_catalogue", "markdown_report", "main"]


@dataclass(frozen=True)
class Entry:
    """One identity: ``claimed`` is an expression, or a function that builds it (a claim
    whose shapes do not fit cannot be built and is reported as having the wrong shape);
    ``claim_text`` shows such a claim as the source writes it."""
    id: str
    title: str
    source: str
    function: object
    wrt: object
    claimed: object
    kind: str = "gradient"
    expect: str = "holds"
    finding: str = ""
    layout: str = "numerator"
    convention: str = "unconstrained"
    sizes: tuple | None = None
    claim_text: str = ""
    known_issue: str = ""        # a matcalc bug that makes this entry fail (tests mark it xfail)
    group: str = field(default="", compare=False)

    def check(self, seed=0, tolerance=1e-6) -> VerificationResult:
        result = verify(self.function, self.wrt, self.claimed, kind=self.kind, layout=self.layout,
                        symmetric_convention=self.convention, tolerance=tolerance, seed=seed,
                        sizes=list(self.sizes) if self.sizes else None)
        result.entry = self
        return result


# ---------------------------------------------------------------- small helpers

def _hadamard(*factors):
    return HadamardProduct(*factors)


def _one_minus(A):
    return OneMatrix(*A.shape) - A


def _reciprocal(A):
    return F.power(A, -1)


def _sigmoid_prime(Z):
    """σ′(Z) = σ(Z) ⊙ (1 − σ(Z))."""
    s = F.sigmoid(Z)
    return _hadamard(s, _one_minus(s))


COOKBOOK = "Matrix Cookbook"


def cookbook(equation, section):
    return f"{COOKBOOK} eq. ({equation}), §{section}"


# ---------------------------------------------------------------- the Matrix Cookbook

def _determinants():
    n, m = dim("n"), dim("m")
    X, A, B = matrix("X", n, n), matrix("A", n, n), matrix("B", n, n)
    Xr, As = matrix("X", n, m), matrix("A", n, n, symmetric=True)
    tall = ({"n": 4, "m": 2}, {"n": 5, "m": 3}, {"n": 3, "m": 2})
    inv_T = F.inv(X).T
    return [
        Entry("cookbook-49", "∂ det(X)/∂X = det(X) X⁻ᵀ", cookbook(49, "2.1.2"),
              F.det(X), X, F.det(X) * inv_T),
        Entry("cookbook-51", "∂ det(AXB)/∂X = det(AXB) X⁻ᵀ", cookbook(51, "2.1.2"),
              F.det(A * X * B), X, F.det(A * X * B) * inv_T),
        Entry("cookbook-52", "∂ det(XᵀAX)/∂X = 2 det(XᵀAX) X⁻ᵀ (X square)", cookbook(52, "2.1.2"),
              F.det(X.T * A * X), X, 2 * F.det(X.T * A * X) * inv_T),
        Entry("cookbook-53", "∂ det(XᵀAX)/∂X = 2 det(XᵀAX) AX(XᵀAX)⁻¹ (X tall, A symmetric)",
              cookbook(53, "2.1.2"), F.det(Xr.T * As * Xr), Xr,
              2 * F.det(Xr.T * As * Xr) * As * Xr * F.inv(Xr.T * As * Xr), sizes=tall),
        Entry("cookbook-54", "∂ det(XᵀAX)/∂X = det(XᵀAX)(AX(XᵀAX)⁻¹ + AᵀX(XᵀAᵀX)⁻¹) (A general)",
              cookbook(54, "2.1.2"), F.det(Xr.T * A * Xr), Xr,
              F.det(Xr.T * A * Xr) * (A * Xr * F.inv(Xr.T * A * Xr) + A.T * Xr * F.inv(Xr.T * A.T * Xr)),
              sizes=tall),
        Entry("cookbook-57", "∂ ln det(X)/∂X = X⁻ᵀ", cookbook(57, "2.1.2"),
              F.logdet(X), X, inv_T),
        Entry("cookbook-58", "∂ det(X³)/∂X = 3 det(X³) X⁻ᵀ", cookbook(58, "2.1.2") + ", with k = 3",
              F.det(X ** 3), X, 3 * F.det(X ** 3) * inv_T),
        Entry("misquote-det", "∂ det(X)/∂X = det(X) X⁻¹ (a common misquote of (49))",
              f"misquote of {cookbook(49, '2.1.2')}", F.det(X), X, F.det(X) * F.inv(X),
              expect="transposed",
              finding="The inverse must be transposed: (X⁻¹)ᵀ. The two agree only for symmetric X."),
        Entry("misquote-logdet", "∂ ln det(X)/∂X = X⁻¹ for a general X",
              f"misquote of {cookbook(57, '2.1.2')}", F.logdet(X), X, F.inv(X), expect="transposed",
              finding="X⁻¹ is right only for symmetric X (covariance matrices); in general it is X⁻ᵀ."),
    ]


def _inverses():
    n = dim("n")
    X, A, B = matrix("X", n, n), matrix("A", n, n), matrix("B", n, n)
    a, b = colvec("a", n), colvec("b", n)
    Xi = F.inv(X)
    return [
        Entry("cookbook-61", "∂ aᵀX⁻¹b/∂X = −X⁻ᵀabᵀX⁻ᵀ", cookbook(61, "2.2"),
              a.T * Xi * b, X, -Xi.T * a * b.T * Xi.T),
        Entry("cookbook-62", "∂ det(X⁻¹)/∂X = −det(X⁻¹)(X⁻¹)ᵀ", cookbook(62, "2.2"),
              F.det(Xi), X, -F.det(Xi) * Xi.T),
        Entry("cookbook-63", "∂ tr(AX⁻¹B)/∂X = −(X⁻¹BAX⁻¹)ᵀ", cookbook(63, "2.2"),
              F.trace(A * Xi * B), X, -(Xi * B * A * Xi).T),
        Entry("cookbook-64", "∂ tr((X + A)⁻¹)/∂X = −((X + A)⁻¹(X + A)⁻¹)ᵀ", cookbook(64, "2.2"),
              F.trace(F.inv(X + A)), X, -(F.inv(X + A) * F.inv(X + A)).T),
        Entry("cookbook-124", "∂ tr(AX⁻¹B)/∂X = −X⁻ᵀAᵀBᵀX⁻ᵀ", cookbook(124, "2.5.4"),
              F.trace(A * Xi * B), X, -Xi.T * A.T * B.T * Xi.T),
    ]


def _first_order():
    n, m = dim("n"), dim("m")
    x, a = colvec("x", n), colvec("a", n)
    X = matrix("X", m, n)
    am, bn = colvec("a", m), colvec("b", n)
    Xs = matrix("X", n, n)
    return [
        Entry("cookbook-69a", "∂ xᵀa/∂x = a", cookbook(69, "2.4.1"), x.T * a, x, a),
        Entry("cookbook-69b", "∂ aᵀx/∂x = a", cookbook(69, "2.4.1"), a.T * x, x, a),
        Entry("cookbook-70", "∂ aᵀXb/∂X = abᵀ", cookbook(70, "2.4.1"), am.T * X * bn, X, am * bn.T),
        Entry("cookbook-71", "∂ aᵀXᵀb/∂X = baᵀ", cookbook(71, "2.4.1"), bn.T * X.T * am, X, am * bn.T),
        Entry("cookbook-72a", "∂ aᵀXa/∂X = aaᵀ", cookbook(72, "2.4.1"), a.T * Xs * a, Xs, a * a.T),
        Entry("cookbook-72b", "∂ aᵀXᵀa/∂X = aaᵀ", cookbook(72, "2.4.1"), a.T * Xs.T * a, Xs, a * a.T),
        Entry("misquote-70", "∂ aᵀXb/∂X = baᵀ (numerator-layout answer given as the gradient)",
              f"misquote of {cookbook(70, '2.4.1')}", am.T * X * bn, X, bn * am.T, expect="wrong shape",
              finding="baᵀ is n×m but X is m×n: it is the Jacobian in numerator layout, the transpose of "
                      "the gradient abᵀ."),
    ]


def _second_order():
    n, m, p = dim("n"), dim("m"), dim("p")
    X = matrix("X", m, n)
    b, c = colvec("b", n), colvec("c", n)
    x = colvec("x", n)
    Bm, bm, C, D, d = matrix("B", m, n), colvec("b", m), matrix("C", m, p), matrix("D", p, n), colvec("d", p)
    B = matrix("B", n, n)
    Bs = matrix("B", n, n, symmetric=True)
    Dm, cm = matrix("D", m, m), colvec("c", m)
    # (84)–(88): x ∈ ℝᵐ, s ∈ ℝⁿ, A ∈ ℝᵐˣⁿ, W symmetric
    xm, s, A = colvec("x", m), colvec("s", n), matrix("A", m, n)
    W, Wg = matrix("W", m, m, symmetric=True), matrix("W", m, m)
    sm = colvec("s", m)
    r = xm - A * s
    q = xm - sm
    return [
        Entry("cookbook-77", "∂ bᵀXᵀXc/∂X = X(bcᵀ + cbᵀ)", cookbook(77, "2.4.2"),
              b.T * X.T * X * c, X, X * (b * c.T + c * b.T)),
        Entry("cookbook-78", "∂ (Bx + b)ᵀC(Dx + d)/∂x = BᵀC(Dx + d) + DᵀCᵀ(Bx + b)", cookbook(78, "2.4.2"),
              (Bm * x + bm).T * C * (D * x + d), x, Bm.T * C * (D * x + d) + D.T * C.T * (Bm * x + bm)),
        Entry("cookbook-81", "∂ xᵀBx/∂x = (B + Bᵀ)x", cookbook(81, "2.4.2"), x.T * B * x, x, (B + B.T) * x),
        Entry("misquote-81", "∂ xᵀBx/∂x = 2Bx", f"misquote of {cookbook(81, '2.4.2')}",
              x.T * B * x, x, 2 * B * x, expect="holds only for symmetric B",
              finding="2Bx is the gradient only when B is symmetric; in general it is (B + Bᵀ)x."),
        Entry("cookbook-81-symmetric", "∂ xᵀBx/∂x = 2Bx for symmetric B", cookbook(81, "2.4.2"),
              x.T * Bs * x, x, 2 * Bs * x),
        Entry("cookbook-82", "∂ bᵀXᵀDXc/∂X = DᵀXbcᵀ + DXcbᵀ", cookbook(82, "2.4.2"),
              b.T * X.T * Dm * X * c, X, Dm.T * X * b * c.T + Dm * X * c * b.T),
        Entry("cookbook-83", "∂ (Xb + c)ᵀD(Xb + c)/∂X = (D + Dᵀ)(Xb + c)bᵀ", cookbook(83, "2.4.2"),
              (X * b + cm).T * Dm * (X * b + cm), X, (Dm + Dm.T) * (X * b + cm) * b.T),
        Entry("cookbook-84", "∂ (x − As)ᵀW(x − As)/∂s = −2AᵀW(x − As), W symmetric", cookbook(84, "2.4.2"),
              r.T * W * r, s, -2 * A.T * W * r),
        Entry("cookbook-84-general-W", "∂ (x − As)ᵀW(x − As)/∂s = −2AᵀW(x − As) for a general W",
              f"{cookbook(84, '2.4.2')}, without its assumption", r.T * Wg * (xm - A * s), s,
              -2 * A.T * Wg * (xm - A * s), expect="holds only for symmetric W",
              finding="The Cookbook states (84)–(88) for symmetric W; for a general W replace 2W by W + Wᵀ."),
        Entry("cookbook-85", "∂ (x − s)ᵀW(x − s)/∂x = 2W(x − s)", cookbook(85, "2.4.2"),
              q.T * W * q, xm, 2 * W * q),
        Entry("cookbook-86", "∂ (x − s)ᵀW(x − s)/∂s = −2W(x − s)", cookbook(86, "2.4.2"),
              q.T * W * q, sm, -2 * W * q),
        Entry("cookbook-87", "∂ (x − As)ᵀW(x − As)/∂x = 2W(x − As)", cookbook(87, "2.4.2"),
              r.T * W * r, xm, 2 * W * r),
        Entry("cookbook-88", "∂ (x − As)ᵀW(x − As)/∂A = −2W(x − As)sᵀ", cookbook(88, "2.4.2"),
              r.T * W * r, A, -2 * W * r * s.T),
    ]


def _higher_order():
    n = dim("n")
    X, A = matrix("X", n, n), matrix("A", n, n)
    a, b, x, bv = colvec("a", n), colvec("b", n), colvec("x", n), colvec("b", n)
    return [
        Entry("cookbook-90", "∂ aᵀX³b/∂X = Σᵣ (Xʳ)ᵀabᵀ(X²⁻ʳ)ᵀ", cookbook(90, "2.4.3") + ", with n = 3",
              a.T * X ** 3 * b, X,
              a * b.T * (X ** 2).T + X.T * a * b.T * X.T + (X ** 2).T * a * b.T),
        Entry("cookbook-244-gradient", "∇ₓ (xᵀAx + bᵀx) = (A + Aᵀ)x + b", f"{COOKBOOK} §2.4.4",
              x.T * A * x + bv.T * x, x, (A + A.T) * x + bv),
        Entry("cookbook-244-hessian", "∂²(xᵀAx + bᵀx)/∂x∂xᵀ = A + Aᵀ", f"{COOKBOOK} §2.4.4",
              x.T * A * x + bv.T * x, x, A + A.T, kind="hessian"),
    ]


def _traces():
    n, m, p, q = dim("n"), dim("m"), dim("p"), dim("q")
    X, A, B = matrix("X", n, n), matrix("A", n, n), matrix("B", n, n)
    Xr = matrix("X", m, n)
    A_pm, B_np = matrix("A", p, m), matrix("B", n, p)
    A_pn, B_mp = matrix("A", p, n), matrix("B", m, p)
    A_mn = matrix("A", m, n)
    B_mm, B_nn, C_mm, C_nn = matrix("B", m, m), matrix("B", n, n), matrix("C", m, m), matrix("C", n, n)
    C_mp = matrix("C", m, p)
    B_nq, C_pq = matrix("B", n, q), matrix("C", p, q)
    I = Identity(n)
    M = A_pm * Xr * B_nq + C_pq
    return [
        Entry("cookbook-99", "∂ tr(X)/∂X = I", cookbook(99, "2.5.1"), F.trace(X), X, I),
        Entry("cookbook-100", "∂ tr(XA)/∂X = Aᵀ", cookbook(100, "2.5.1"), F.trace(X * A), X, A.T),
        Entry("cookbook-101", "∂ tr(AXB)/∂X = AᵀBᵀ", cookbook(101, "2.5.1"),
              F.trace(A_pm * Xr * B_np), Xr, A_pm.T * B_np.T),
        Entry("cookbook-102", "∂ tr(AXᵀB)/∂X = BA", cookbook(102, "2.5.1"),
              F.trace(A_pn * Xr.T * B_mp), Xr, B_mp * A_pn),
        Entry("cookbook-103", "∂ tr(XᵀA)/∂X = A", cookbook(103, "2.5.1"), F.trace(Xr.T * A_mn), Xr, A_mn),
        Entry("cookbook-104", "∂ tr(AXᵀ)/∂X = A", cookbook(104, "2.5.1"), F.trace(A_mn * Xr.T), Xr, A_mn),
        Entry("misquote-100", "∂ tr(XA)/∂X = A", f"misquote of {cookbook(100, '2.5.1')}",
              F.trace(X * A), X, A, expect="transposed",
              finding="tr(XA) = Σᵢⱼ XᵢⱼAⱼᵢ, so the gradient is Aᵀ; A is the gradient of tr(XᵀA)."),
        Entry("cookbook-106", "∂ tr(X²)/∂X = 2Xᵀ", cookbook(106, "2.5.2"), F.trace(X * X), X, 2 * X.T),
        Entry("cookbook-107", "∂ tr(X²B)/∂X = (XB + BX)ᵀ", cookbook(107, "2.5.2"),
              F.trace(X * X * B), X, (X * B + B * X).T),
        Entry("cookbook-108", "∂ tr(XᵀBX)/∂X = BX + BᵀX", cookbook(108, "2.5.2"),
              F.trace(Xr.T * B_mm * Xr), Xr, B_mm * Xr + B_mm.T * Xr),
        Entry("cookbook-109", "∂ tr(BXXᵀ)/∂X = BX + BᵀX", cookbook(109, "2.5.2"),
              F.trace(B_mm * Xr * Xr.T), Xr, B_mm * Xr + B_mm.T * Xr),
        Entry("cookbook-110", "∂ tr(XXᵀB)/∂X = BX + BᵀX", cookbook(110, "2.5.2"),
              F.trace(Xr * Xr.T * B_mm), Xr, B_mm * Xr + B_mm.T * Xr),
        Entry("cookbook-111", "∂ tr(XBXᵀ)/∂X = XBᵀ + XB", cookbook(111, "2.5.2"),
              F.trace(Xr * B_nn * Xr.T), Xr, Xr * B_nn.T + Xr * B_nn),
        Entry("cookbook-112", "∂ tr(BXᵀX)/∂X = XBᵀ + XB", cookbook(112, "2.5.2"),
              F.trace(B_nn * Xr.T * Xr), Xr, Xr * B_nn.T + Xr * B_nn),
        Entry("cookbook-113", "∂ tr(XᵀXB)/∂X = XBᵀ + XB", cookbook(113, "2.5.2"),
              F.trace(Xr.T * Xr * B_nn), Xr, Xr * B_nn.T + Xr * B_nn),
        Entry("cookbook-114", "∂ tr(AXBX)/∂X = AᵀXᵀBᵀ + BᵀXᵀAᵀ", cookbook(114, "2.5.2"),
              F.trace(A * X * B * X), X, A.T * X.T * B.T + B.T * X.T * A.T),
        Entry("cookbook-115a", "∂ tr(XᵀX)/∂X = 2X", cookbook(115, "2.5.2"), F.trace(Xr.T * Xr), Xr, 2 * Xr),
        Entry("cookbook-115b", "∂ tr(XXᵀ)/∂X = 2X", cookbook(115, "2.5.2"), F.trace(Xr * Xr.T), Xr, 2 * Xr),
        Entry("cookbook-116", "∂ tr(BᵀXᵀCXB)/∂X = CᵀXBBᵀ + CXBBᵀ", cookbook(116, "2.5.2"),
              F.trace(B_np.T * Xr.T * C_mm * Xr * B_np), Xr,
              C_mm.T * Xr * B_np * B_np.T + C_mm * Xr * B_np * B_np.T),
        Entry("cookbook-117", "∂ tr(XᵀBXC)/∂X = BXC + BᵀXCᵀ", cookbook(117, "2.5.2"),
              F.trace(Xr.T * B_mm * Xr * C_nn), Xr, B_mm * Xr * C_nn + B_mm.T * Xr * C_nn.T),
        Entry("cookbook-118", "∂ tr(AXBXᵀC)/∂X = AᵀCᵀXBᵀ + CAXB", cookbook(118, "2.5.2"),
              F.trace(A_pm * Xr * B_nn * Xr.T * C_mp), Xr,
              A_pm.T * C_mp.T * Xr * B_nn.T + C_mp * A_pm * Xr * B_nn),
        Entry("cookbook-119", "∂ tr((AXB + C)(AXB + C)ᵀ)/∂X = 2Aᵀ(AXB + C)Bᵀ", cookbook(119, "2.5.2"),
              F.trace(M * M.T), Xr, 2 * A_pm.T * M * B_nq.T),
        Entry("cookbook-121", "∂ tr(X³)/∂X = 3(X²)ᵀ", cookbook(121, "2.5.3") + ", with k = 3",
              F.trace(X ** 3), X, 3 * (X ** 2).T),
        Entry("cookbook-122", "∂ tr(AX³)/∂X = Σᵣ (XʳAX²⁻ʳ)ᵀ", cookbook(122, "2.5.3") + ", with k = 3",
              F.trace(A * X ** 3), X, (A * X ** 2).T + (X * A * X).T + (X ** 2 * A).T),
        Entry("cookbook-123", "∂ tr(BᵀXᵀCXXᵀCXB)/∂X = CXXᵀCXBBᵀ + CᵀXBBᵀXᵀCᵀX + CXBBᵀXᵀCX + CᵀXXᵀCᵀXBBᵀ",
              cookbook(123, "2.5.3"),
              F.trace(B_np.T * Xr.T * C_mm * Xr * Xr.T * C_mm * Xr * B_np), Xr,
              C_mm * Xr * Xr.T * C_mm * Xr * B_np * B_np.T
              + C_mm.T * Xr * B_np * B_np.T * Xr.T * C_mm.T * Xr
              + C_mm * Xr * B_np * B_np.T * Xr.T * C_mm * Xr
              + C_mm.T * Xr * Xr.T * C_mm.T * Xr * B_np * B_np.T),
    ]


def _trace_inverses():
    n, m = dim("n"), dim("m")
    X = matrix("X", m, n)
    A, As = matrix("A", n, n), matrix("A", n, n, symmetric=True)
    B, C = matrix("B", m, m, symmetric=True), matrix("C", m, m, spd=True)
    tall = ({"m": 4, "n": 2}, {"m": 5, "n": 3}, {"m": 3, "n": 2})
    K = F.inv(X.T * C * X)
    Ms = F.inv(As + X.T * C * X)
    Mg = F.inv(A + X.T * C * X)
    claim_127 = lambda M: -2 * C * X * M * X.T * B * X * M + 2 * B * X * M  # noqa: E731
    return [
        Entry("cookbook-125", "∂ tr((XᵀCX)⁻¹A)/∂X = −CX(XᵀCX)⁻¹(A + Aᵀ)(XᵀCX)⁻¹ (C symmetric)",
              cookbook(125, "2.5.4"), F.trace(K * A), X, -C * X * K * (A + A.T) * K, sizes=tall),
        Entry("cookbook-126", "∂ tr((XᵀCX)⁻¹(XᵀBX))/∂X = −2CX(XᵀCX)⁻¹XᵀBX(XᵀCX)⁻¹ + 2BX(XᵀCX)⁻¹ (B, C symmetric)",
              cookbook(126, "2.5.4"), F.trace(K * X.T * B * X), X,
              -2 * C * X * K * X.T * B * X * K + 2 * B * X * K, sizes=tall),
        Entry("cookbook-127", "∂ tr((A + XᵀCX)⁻¹(XᵀBX))/∂X = −2CX(A + XᵀCX)⁻¹XᵀBX(A + XᵀCX)⁻¹ + 2BX(A + XᵀCX)⁻¹ "
              "(A, B, C symmetric)", cookbook(127, "2.5.4"), F.trace(Ms * X.T * B * X), X, claim_127(Ms),
              sizes=tall),
        Entry("cookbook-127-general-A", "(127) with a general A", f"{cookbook(127, '2.5.4')}, A not symmetric",
              F.trace(Mg * X.T * B * X), X, claim_127(Mg), sizes=tall, expect="holds only for symmetric A",
              finding="The Cookbook assumes only B and C symmetric, but the formula also needs A symmetric: "
                      "for a general A, (A + XᵀCX)⁻¹ is not symmetric and its two terms differ."),
    ]


def _norms():
    n, m = dim("n"), dim("m")
    x, a = colvec("x", n), colvec("a", n)
    X = matrix("X", m, n)
    r = x - a
    I = Identity(n)
    return [
        Entry("cookbook-129", "∂ ‖x − a‖₂/∂x = (x − a)/‖x − a‖₂", cookbook(129, "2.6.1"),
              F.norm(r), x, r / F.norm(r)),
        Entry("cookbook-130", "∂/∂x (x − a)/‖x − a‖₂ = I/‖x − a‖₂ − (x − a)(x − a)ᵀ/‖x − a‖₂³",
              cookbook(130, "2.6.1"), r / F.norm(r), x, I / F.norm(r) - r * r.T / F.norm(r) ** 3,
              kind="jacobian"),
        Entry("cookbook-131a", "∂ ‖x‖₂²/∂x = 2x", cookbook(131, "2.6.1"), F.norm(x) ** 2, x, 2 * x),
        Entry("cookbook-131b", "∂ xᵀx/∂x = 2x", cookbook(131, "2.6.1"), x.T * x, x, 2 * x),
        Entry("misquote-131", "∂ xᵀx/∂x = x", f"misquote of {cookbook(131, '2.6.1')}", x.T * x, x, x,
              expect="off by a factor of 1/2", finding="The factor 2 of d(xᵀx) = 2xᵀdx is missing."),
        Entry("cookbook-132", "∂ ‖X‖_F²/∂X = 2X", cookbook(132, "2.7.1"), F.norm(X) ** 2, X, 2 * X),
    ]


def _symmetric():
    n = dim("n")
    X, A = matrix("X", n, n, spd=True), matrix("A", n, n)
    I = Identity(n)
    Xi = F.inv(X)
    section = f"{COOKBOOK} §2.8.2"
    return [
        Entry("cookbook-282-trace", "∂ tr(AX)/∂X = A + Aᵀ − (A ⊙ I), X symmetric", section,
              F.trace(A * X), X, A + A.T - _hadamard(A, I), convention="symmetric"),
        Entry("cookbook-282-det", "∂ det(X)/∂X = det(X)(2X⁻¹ − (X⁻¹ ⊙ I)), X symmetric", section,
              F.det(X), X, F.det(X) * (2 * Xi - _hadamard(Xi, I)), convention="symmetric"),
        Entry("cookbook-282-logdet", "∂ ln det(X)/∂X = 2X⁻¹ − (X⁻¹ ⊙ I), X symmetric", section,
              F.logdet(X), X, 2 * Xi - _hadamard(Xi, I), convention="symmetric"),
        Entry("cookbook-282-logdet-unconstrained", "2X⁻¹ − (X⁻¹ ⊙ I) read as the unconstrained gradient",
              section, F.logdet(X), X, 2 * Xi - _hadamard(Xi, I), expect="different",
              finding="§2.8.2 counts each off-diagonal pair once; with every entry of X independent the "
                      "gradient of ln det X is X⁻¹, so the formula belongs to the symmetric convention only."),
        Entry("cookbook-57-symmetric-convention", "∂ ln det(X)/∂X = X⁻¹ in the symmetric convention",
              f"{cookbook(57, '2.1.2')} with {section}", F.logdet(X), X, Xi, convention="symmetric",
              expect="different",
              finding="In the symmetric convention the off-diagonal entries double: 2X⁻¹ − (X⁻¹ ⊙ I)."),
        Entry("cookbook-57-unconstrained-symmetric", "∂ ln det(X)/∂X = X⁻¹ for symmetric X, unconstrained",
              cookbook(57, "2.1.2"), F.logdet(X), X, Xi),
    ]


# ---------------------------------------------------------------- standard ML derivations

def _regression():
    n, d = dim("n"), dim("d")
    X, y, w = matrix("X", n, d), colvec("y", n), colvec("w", d)
    W = matrix("W", n, n, spd=True)
    lam = scalar("lambda", positive=True)
    I = Identity(d)
    rss = (y - X * w).T * (y - X * w)
    ridge = rss + lam * w.T * w
    p = F.sigmoid(X * w)
    loglik = F.sum(_hadamard(y, F.log(p)) + _hadamard(_one_minus(y), F.log(_one_minus(p))))
    return [
        Entry("esl-3.4", "∂ RSS/∂β = −2Xᵀ(y − Xβ)", "ESL eq. (3.4), §3.2", rss, w, -2 * X.T * (y - X * w)),
        Entry("esl-3.5", "∂² RSS/∂β∂βᵀ = 2XᵀX", "ESL eq. (3.5), §3.2", rss, w, 2 * X.T * X, kind="hessian"),
        Entry("esl-3.6", "β̂ = (XᵀX)⁻¹Xᵀy (normal equations)", "ESL eq. (3.6), §3.2", rss, w,
              F.inv(X.T * X) * X.T * y, kind="stationary"),
        Entry("ridge-gradient", "∇ (RSS + λ‖β‖²) = −2Xᵀ(y − Xβ) + 2λβ", "ESL §3.4.1", ridge, w,
              -2 * X.T * (y - X * w) + 2 * lam * w),
        Entry("ridge-hessian", "∇² (RSS + λ‖β‖²) = 2(XᵀX + λI)", "ESL §3.4.1", ridge, w,
              2 * (X.T * X + lam * I), kind="hessian"),
        Entry("esl-3.44", "β̂_ridge = (XᵀX + λI)⁻¹Xᵀy", "ESL eq. (3.44), §3.4.1", ridge, w,
              F.inv(X.T * X + lam * I) * X.T * y, kind="stationary"),
        Entry("weighted-least-squares", "argmin (y − Xβ)ᵀW(y − Xβ) = (XᵀWX)⁻¹XᵀWy",
              "generalised least squares (Aitken); ESL §4.4.1 (IRLS step)", (y - X * w).T * W * (y - X * w), w,
              F.inv(X.T * W * X) * X.T * W * y, kind="stationary"),
        Entry("esl-4.21", "∂ℓ/∂β = Xᵀ(y − p) for the logistic log-likelihood", "ESL eq. (4.21), §4.4.1",
              loglik, w, X.T * (y - p)),
        Entry("esl-4.22", "∂²ℓ/∂β∂βᵀ = −XᵀWX, W = diag(p(1 − p))", "ESL eq. (4.22), §4.4.1",
              loglik, w, -X.T * F.diag(_hadamard(p, _one_minus(p))) * X, kind="hessian"),
        Entry("logistic-mean-loss", "∇ of the mean cross-entropy: (1/n)Xᵀ(σ(Xw) − y)",
              "Murphy, Probabilistic Machine Learning (2022) §10.2.3", -loglik / n, w, X.T * (p - y) / n),
    ]


def _classifiers():
    N, d, K = dim("N"), dim("d"), dim("K")
    X, W, b = matrix("X", N, d), matrix("W", d, K), rowvec("b", K)
    Y, Yg = matrix("Y", N, K, onehot=True), matrix("Y", N, K)
    ones = OneMatrix(N, 1)
    Z = X * W + ones * b
    S = F.softmax(Z)
    loss = -F.sum(_hadamard(Y, F.log(S))) / N
    loss_g = -F.sum(_hadamard(Yg, F.log(S))) / N
    return [
        Entry("softmax-regression-W", "∇_W of the softmax cross-entropy = (1/N)Xᵀ(softmax(XW + 1b) − Y)",
              "Murphy, Probabilistic Machine Learning (2022) §10.3; one-hot Y", loss, W, X.T * (S - Y) / N),
        Entry("softmax-regression-b", "∇_b of the softmax cross-entropy = (1/N)1ᵀ(softmax(XW + 1b) − Y)",
              "Murphy, Probabilistic Machine Learning (2022) §10.3; one-hot Y", loss, b, ones.T * (S - Y) / N),
        Entry("softmax-regression-soft-labels", "(1/N)Xᵀ(softmax(XW + 1b) − Y) when the rows of Y do not sum to 1",
              "Murphy §10.3, without one-hot labels", loss_g, W, X.T * (S - Yg) / N, expect="different",
              finding="Ŷ − Y uses Σⱼ Yᵢⱼ = 1; for general targets the gradient is (1/N)Xᵀ(Ŷ ⊙ (Y1)1ᵀ − Y)."),
    ]


def _vector_functions():
    n = dim("n")
    x = colvec("x", n)
    s = F.softmax(x)
    sig = F.sigmoid(x)
    th = F.tanh(x)
    return [
        Entry("logsumexp-gradient", "∇ₓ log Σ exp(x) = softmax(x)", "Boyd & Vandenberghe, Convex Optimization §3.1.5",
              F.logsumexp(x), x, s),
        Entry("logsumexp-hessian", "∇²ₓ log Σ exp(x) = diag(s) − ssᵀ, s = softmax(x)",
              "Boyd & Vandenberghe, Convex Optimization §3.1.5", F.logsumexp(x), x, F.diag(s) - s * s.T,
              kind="hessian"),
        Entry("softmax-jacobian", "∂ softmax(x)/∂x = diag(s) − ssᵀ", "Goodfellow et al., Deep Learning §6.2.2.3",
              s, x, F.diag(s) - s * s.T, kind="jacobian"),
        Entry("sigmoid-jacobian", "∂ σ(x)/∂x = diag(σ(x) ⊙ (1 − σ(x)))", "Goodfellow et al., Deep Learning §6.3.2",
              sig, x, F.diag(_sigmoid_prime(x)), kind="jacobian"),
        Entry("tanh-jacobian", "∂ tanh(x)/∂x = diag(1 − tanh²(x))", "Goodfellow et al., Deep Learning §6.3.2",
              th, x, F.diag(_one_minus(_hadamard(th, th))), kind="jacobian"),
        Entry("relu-jacobian", "∂ relu(x)/∂x = diag(1[x > 0])", "Goodfellow et al., Deep Learning §6.3.1",
              F.relu(x), x, F.diag(F.step(x)), kind="jacobian"),
        Entry("norm-gradient", "∇ₓ ‖x‖ = x/‖x‖", "Boyd & Vandenberghe, Convex Optimization App. A.4",
              F.norm(x), x, x / F.norm(x)),
    ]


def _layers():
    N, d, h, K, r = dim("N"), dim("d"), dim("h"), dim("K"), dim("r")
    X, W, b, G = matrix("X", N, d), matrix("W", d, h), rowvec("b", h), matrix("G", N, h)
    ones = OneMatrix(N, 1)
    Z = X * W + ones * b
    backprop = F.sum(_hadamard(G, Z))
    Y = matrix("Y", N, h)
    residual = Z - Y
    mse = F.norm(residual) ** 2 / (2 * N)
    M, U, V = matrix("M", N, K), matrix("U", N, r), matrix("V", K, r)
    lam = scalar("lambda", positive=True)
    Wd = matrix("W", d, h)
    dl = "Goodfellow et al., Deep Learning §6.5.4 (linear layer)"
    return [
        Entry("linear-layer-W", "upstream gradient G through Z = XW + 1b: ∂/∂W = XᵀG", dl, backprop, W, X.T * G),
        Entry("linear-layer-b", "… ∂/∂b = 1ᵀG (column sums)", dl, backprop, b, ones.T * G),
        Entry("linear-layer-X", "… ∂/∂X = GWᵀ", dl, backprop, X, G * W.T),
        Entry("mse-W", "∇_W (1/2N)‖XW + 1b − Y‖²_F = (1/N)Xᵀ(XW + 1b − Y)", "Goodfellow et al., Deep Learning §5.1.4",
              mse, W, X.T * residual / N),
        Entry("mse-b", "∇_b (1/2N)‖XW + 1b − Y‖²_F = (1/N)1ᵀ(XW + 1b − Y)", "Goodfellow et al., Deep Learning §5.1.4",
              mse, b, ones.T * residual / N),
        Entry("matrix-factorisation", "∇_U ‖M − UVᵀ‖²_F = −2(M − UVᵀ)V", "matrix factorisation by gradient descent (Koren, Bell & Volinsky, 2009)",
              F.norm(M - U * V.T) ** 2, U, -2 * (M - U * V.T) * V),
        Entry("weight-decay", "∇_W (λ/2)‖W‖²_F = λW", "Goodfellow et al., Deep Learning §7.1.1",
              lam / 2 * F.norm(Wd) ** 2, Wd, lam * Wd),
    ]


def _gaussian():
    d, N = dim("d"), dim("N")
    x, mu = colvec("x", d), colvec("mu", d)
    S = matrix("Sigma", d, d, spd=True)
    Si = F.inv(S)
    r = x - mu
    quad = -(r.T * Si * r) / 2
    loglik = -F.logdet(S) / 2 - F.trace(r.T * Si * r) / 2
    Xr, m = matrix("X", N, d), rowvec("mu", d)
    ones = OneMatrix(N, 1)
    centred = Xr - ones * m
    batch = -F.trace(centred * Si * centred.T) / 2
    prml = "PRML §2.3.4"
    return [
        Entry("gaussian-mean", "∂/∂μ ln N(x | μ, Σ) = Σ⁻¹(x − μ)", f"{prml}; {COOKBOOK} §8.1", quad, mu, Si * r),
        Entry("gaussian-covariance", "∂/∂Σ ln N(x | μ, Σ) = ½(Σ⁻¹(x − μ)(x − μ)ᵀΣ⁻¹ − Σ⁻¹) (unconstrained)",
              f"{prml}; {COOKBOOK} §8.1", loglik, S, (Si * r * r.T * Si - Si) / 2),
        Entry("gaussian-covariance-symmetric", "the same in the symmetric convention: 2G − G ⊙ I",
              f"{prml}; {COOKBOOK} §2.8.2", loglik, S,
              (Si * r * r.T * Si - Si) - _hadamard((Si * r * r.T * Si - Si) / 2, Identity(d)),
              convention="symmetric"),
        Entry("gaussian-mle-mean", "μ̂ = (1/N) Σₙ xₙ maximises the likelihood", f"{prml}, eq. (2.121)",
              batch, m, ones.T * Xr / N, kind="stationary"),
    ]


# ---------------------------------------------------------------- the seed documents

def _seed000():
    n, m = dim("n"), dim("m")
    x, A, b = rowvec("x", n), matrix("A", n, m), rowvec("b", m)
    As = matrix("A", n, n)
    shapes = {"w": (1, "d"), "X": ("n", "d"), "y": (1, "n")}
    ols = parse("(y - w @ X.T) @ (y - w @ X.T).T / (2*n)", shapes)
    expanded = parse("(y @ y.T - 2 * w @ X.T @ y.T + w @ X.T @ X @ w.T) / (2*n)", shapes)
    ols_gradient = parse("(-y @ X + w @ (X.T @ X)) / n", shapes)
    w, X, y = (parse(name, shapes) for name in ("w", "X", "y"))
    where_formulas = "seed 000, 'Formulas' (row vectors)"
    where_ols = "seed 000, 'Analytic Solution for Linear Regression'"
    return [
        Entry("seed000-jacobian-x", "y = xA + b: ∂y/∂x = Aᵀ", where_formulas, x * A + b, x, A.T, kind="jacobian"),
        Entry("seed000-jacobian-b", "y = xA + b: ∂y/∂b = I_m", where_formulas, x * A + b, b, Identity(m),
              kind="jacobian"),
        Entry("seed000-quadratic-x", "y = xAxᵀ: ∂y/∂x = x(A + Aᵀ)", where_formulas, x * As * x.T, x, x * (As + As.T)),
        Entry("seed000-quadratic-A", "y = xAxᵀ: ∂y/∂A = xᵀx", where_formulas, x * As * x.T, As, x.T * x),
        Entry("seed000-ols-gradient", "∇_w (1/2n)(y − wXᵀ)(y − wXᵀ)ᵀ = (1/n)(−yX + wXᵀX)", where_ols,
              ols, w, ols_gradient),
        Entry("seed000-ols-expanded", "the expanded loss (1/2n)(yyᵀ − 2wXᵀyᵀ + wXᵀXwᵀ) has the same gradient",
              where_ols, expanded, w, ols_gradient),
        Entry("seed000-ols-solution", "ŵ = yX(XᵀX)⁻¹", where_ols, ols, w, y * X * F.inv(X.T * X), kind="stationary"),
    ] + _seed000_mlp()


def _seed000_mlp():
    N, d, h, K = dim("N"), dim("d"), dim("h"), dim("K")
    X, Y = matrix("X", N, d), matrix("Y", N, K, onehot=True)
    W1, b1, W2, b2 = matrix("W1", d, h), rowvec("b1", h), matrix("W2", h, K), rowvec("b2", K)
    ones = OneMatrix(N, 1)
    Z1 = X * W1 + ones * b1
    A = F.sigmoid(Z1)
    Z2 = A * W2 + ones * b2
    Yhat = F.softmax(Z2)
    L = -F.sum(_hadamard(Y, F.log(Yhat))) / N
    G2 = (Yhat - Y) / N
    G1 = _hadamard(G2 * W2.T, _sigmoid_prime(Z1))
    # the layers on their own, with the intermediate as the variable
    Z2s, Z1s = matrix("Z2", N, K), matrix("Z1", N, h)
    Yhat_s = matrix("Yhat", N, K, positive=True)
    a_row, z_row, zK = rowvec("a", h), rowvec("z", h), rowvec("z", K)
    L_of_Z1 = -F.sum(_hadamard(Y, F.log(F.softmax(F.sigmoid(Z1s) * W2 + ones * b2)))) / N
    G1_s = _hadamard(((F.softmax(F.sigmoid(Z1s) * W2 + ones * b2) - Y) / N) * W2.T, _sigmoid_prime(Z1s))
    s = F.softmax(zK)
    As = matrix("A", N, h)
    L_of_A = -F.sum(_hadamard(Y, F.log(F.softmax(As * W2 + ones * b2)))) / N
    where = "seed 000, 'Computing Gradients in Classification'"
    return [
        Entry("seed000-dL-dyhat", "∂L/∂ŷ = (1/N)[−y₁/ŷ₁ … −y_K/ŷ_K]", where,
              -F.sum(_hadamard(Y, F.log(Yhat_s))) / N, Yhat_s, -_hadamard(Y, _reciprocal(Yhat_s)) / N),
        Entry("seed000-softmax-jacobian", "∂ŷᵢ/∂zⱼ = ŷᵢ(δᵢⱼ − ŷⱼ), i.e. diag(ŷ) − ŷᵀŷ for a row ŷ", where,
              s, zK, F.diag(s) - s.T * s, kind="jacobian"),
        Entry("seed000-dL-dz2", "∂L/∂z² = (1/N)(ŷ − y) with one-hot y", where,
              -F.sum(_hadamard(Y, F.log(F.softmax(Z2s)))) / N, Z2s, (F.softmax(Z2s) - Y) / N),
        Entry("seed000-dL-dW2", "∂L/∂W² = (1/N) Σₙ aⁿᵀ(ŷⁿ − yⁿ) = (1/N)Aᵀ(Ŷ − Y)", where, L, W2, A.T * G2),
        Entry("seed000-dL-db2", "∂L/∂b² = (1/N) Σₙ (ŷⁿ − yⁿ) = (1/N)1ᵀ(Ŷ − Y)", where, L, b2, ones.T * G2),
        Entry("seed000-dL-da", "∂L/∂aⁿ = ∂L/∂z^{n,2} W²ᵀ", where, L_of_A, As,
              (F.softmax(As * W2 + ones * b2) - Y) / N * W2.T),
        Entry("seed000-dz2-da", "∂z²/∂a = W²ᵀ", where, a_row * W2 + b2, a_row, W2.T, kind="jacobian"),
        Entry("seed000-da-dz1", "∂a/∂z¹ = diag(aᵢ(1 − aᵢ))", where, F.sigmoid(z_row), z_row,
              F.diag(_sigmoid_prime(z_row)), kind="jacobian"),
        Entry("seed000-dL-dz1", "∂L/∂z¹ = (∂L/∂z² W²ᵀ) ⊙ a ⊙ (1 − a)", where, L_of_Z1, Z1s, G1_s),
        Entry("seed000-dL-dW1", "∂L/∂W¹ = Σₙ xⁿ ∂L/∂z^{n,1}", where, L, W1, lambda: X * G1,
              expect="wrong shape", claim_text=r"\sum_n x^{n} \frac{\partial L}{\partial z^{n,1}}",
              finding="xⁿ (1×d) times ∂L/∂z^{n,1} (1×h) is not defined: a transpose is missing. "
                      "The gradient is Σₙ xⁿᵀ ∂L/∂z^{n,1} = XᵀG₁ (d×h, like W¹)."),
        Entry("seed000-dL-dW1-corrected", "∂L/∂W¹ = Σₙ xⁿᵀ ∂L/∂z^{n,1} = XᵀG₁", f"{where}, with the transpose",
              L, W1, X.T * G1),
        Entry("seed000-dL-db1", "∂L/∂b¹ = Σₙ ∂L/∂z^{n,1} = 1ᵀG₁", where, L, b1, ones.T * G1),
    ]


def _seed001():
    n, h = dim("n"), dim("h")
    x, y = colvec("x", n), matrix("y", 1, 1)
    W01, W12 = matrix("W01", n, h), matrix("W12", h, 1)
    f, fp = F.sigmoid, _sigmoid_prime
    v_in1 = W01.T * x
    v_out1 = f(v_in1)
    v_in2 = W12.T * v_out1
    yhat = f(v_in2)
    E = F.power(y - yhat, 2) / 2
    delta2 = _hadamard(y - yhat, fp(v_in2))
    delta1 = _hadamard(W12 * delta2, fp(v_in1))
    # the error terms are derivatives with respect to the pre-activations: make those the variables
    u1, u2 = colvec("v_in1", h), matrix("v_in2", 1, 1)
    E_u2 = F.power(y - f(u2), 2) / 2
    E_u1 = F.power(y - f(W12.T * f(u1)), 2) / 2
    delta2_u1 = _hadamard(y - f(W12.T * f(u1)), fp(W12.T * f(u1)))
    v_in0 = colvec("v_in0", n)
    where = "seed 001, 'Backpropagation' and 'Example'"
    convention = ("The seed's δ is (y − ŷ)f′ = −∂E/∂v_in: the negative-gradient convention, which is "
                  "consistent with its update Δw = +ηδx.")
    return [
        Entry("seed001-forward-jacobian", "v_in⁽¹⁾ = W⁽⁰→¹⁾ᵀx: ∂v_in⁽¹⁾/∂x = W⁽⁰→¹⁾ᵀ", where, v_in1, x, W01.T,
              kind="jacobian"),
        Entry("seed001-delta-out", "δ^out = (y − ŷ) f′(h) as ∂E/∂h, E = ½(y − ŷ)²", where, E_u2, u2,
              _hadamard(y - f(u2), fp(u2)), expect="off by a factor of -1", finding=convention),
        Entry("seed001-delta1", "δ⁽¹⁾ = (W⁽¹→²⁾δ⁽²⁾) f′(v_in⁽¹⁾)ᵀ", where, E_u1, u1,
              W12 * delta2_u1 * fp(u1).T, expect="wrong shape",
              finding="W⁽¹→²⁾δ⁽²⁾ (h×1) times f′(v_in⁽¹⁾)ᵀ (1×h) is an h×h outer product; the error term "
                      "needs the elementwise product (W⁽¹→²⁾δ⁽²⁾) ⊙ f′(v_in⁽¹⁾)."),
        Entry("seed001-delta1-elementwise", "δ⁽¹⁾ = (W⁽¹→²⁾δ⁽²⁾) ⊙ f′(v_in⁽¹⁾) as ∂E/∂v_in⁽¹⁾",
              f"{where}, with ⊙", E_u1, u1, _hadamard(W12 * delta2_u1, fp(u1)),
              expect="off by a factor of -1", finding=convention),
        Entry("seed001-delta0", "δ⁽⁰⁾ = (W⁽⁰→¹⁾δ⁽¹⁾) f′(v_in⁽⁰⁾)ᵀ", where, E, x,
              W01 * delta1 * fp(v_in0).T, expect="wrong shape",
              finding="The input layer has no pre-activation v_in⁽⁰⁾ (x goes in unchanged), and the product "
                      "with f′(·)ᵀ is again an outer product. The input's error term is W⁽⁰→¹⁾δ⁽¹⁾ = −∂E/∂x."),
        Entry("seed001-delta0-corrected", "−∂E/∂x = W⁽⁰→¹⁾δ⁽¹⁾ (no f′ at the input)",
              f"{where}, corrected", E, x, -W01 * delta1),
        Entry("seed001-update-W01", "Δwᵢⱼ = η δⱼ xᵢ, i.e. ∂E/∂W⁽⁰→¹⁾ = −x δ⁽¹⁾ᵀ", where, E, W01, -x * delta1.T),
        Entry("seed001-update-W12", "∂E/∂W⁽¹→²⁾ = −v_out⁽¹⁾ δ⁽²⁾ᵀ", where, E, W12, -v_out1 * delta2.T),
    ]


def _seed002():
    d, h, K, n = dim("d"), dim("h"), dim("K"), dim("n")
    x, y = colvec("x", d), colvec("y", K)
    W1, W2 = matrix("W1", h, d), matrix("W2", K, h)
    v = F.sigmoid(W1 * x)
    L = F.norm(W2 * v - y) ** 2
    R = W2 * v - y
    Xb, Yb = matrix("X", d, n), matrix("Y", K, n)
    Vb = F.sigmoid(W1 * Xb)
    training = -F.norm(W2 * Vb - Yb) ** 2 / n
    # the final slide: sigmoid output
    yhat = F.sigmoid(W2 * v)
    Ls = F.norm(yhat - y) ** 2
    Rs = yhat - y
    out = _hadamard(Rs, yhat, _one_minus(yhat))
    where_bp = "seed 002, 'Backpropagation' (last slide)"
    where_loss = "seed 002, 'Loss function'"
    return [
        Entry("seed002-grad-W2", "∇_{W₂} ‖W₂σ(W₁x) − y‖² = 2(W₂v − y)vᵀ", where_loss, L, W2, 2 * R * v.T),
        Entry("seed002-grad-W1", "∇_{W₁} ‖W₂σ(W₁x) − y‖² = 2[(W₂ᵀ(W₂v − y)) ⊙ v ⊙ (1 − v)]xᵀ", where_loss,
              L, W1, 2 * _hadamard(W2.T * R, v, _one_minus(v)) * x.T),
        Entry("seed002-training-loss", "training loss −(1/n) Σᵢ L(x⁽ⁱ⁾, y⁽ⁱ⁾): its gradient is the mean of ∇L",
              "seed 002, 'Approach: Training loss'", training, W2, 2 * (W2 * Vb - Yb) * Vb.T / n,
              expect="off by a factor of -1",
              finding="With the leading minus, minimising the training loss maximises the squared error: the "
                      "sign is a slip (the minus belongs to log-likelihoods). The training loss is "
                      "+(1/n) Σᵢ L, whose gradient is the mean of the per-example gradients used in SGD."),
        Entry("seed002-sigmoid-out-W1", "∇_{W₁} L = 2W₂ᵀR ⊙ ŷ ⊙ (1 − ŷ) ⊙ v ⊙ (1 − v) xᵀ, R = ŷ − y",
              where_bp, Ls, W1, 2 * _hadamard(W2.T * out, v, _one_minus(v)) * x.T,
              finding="Holds when read as [2W₂ᵀ(R ⊙ ŷ ⊙ (1 − ŷ))] ⊙ v ⊙ (1 − v) xᵀ, the only reading whose "
                      "shapes fit."),
        Entry("seed002-sigmoid-out-W2", "∇_{W₂} L = 2R ⊙ ŷ ⊙ (1 − ŷ) vᵀ", where_bp, Ls, W2, 2 * out * v.T),
    ] + _seed002_bce()


def _seed002_bce():
    d, h1, h2, n = dim("d"), dim("h1"), dim("h2"), dim("n")
    x, y = colvec("x", d), matrix("y", 1, 1)
    W1, b1 = matrix("W1", h1, d), colvec("b1", h1)
    W2, b2 = matrix("W2", h2, h1), colvec("b2", h2)
    W3, b3 = matrix("W3", 1, h2), matrix("b3", 1, 1)
    v1 = F.sigmoid(W1 * x + b1)
    v2 = F.sigmoid(W2 * v1 + b2)
    z3 = W3 * v2 + b3
    yhat = F.sigmoid(z3)
    L = -(_hadamard(y, F.log(yhat)) + _hadamard(_one_minus(y), F.log(_one_minus(yhat))))
    back2 = _hadamard(W3.T * (yhat - y), v2, _one_minus(v2))
    yb, yh = rowvec("y", n), rowvec("yhat", n, positive=True)
    bce_batch = -F.sum(_hadamard(yb, F.log(yh)) + _hadamard(_one_minus(yb), F.log(_one_minus(yh))))
    z = matrix("z", 1, 1)
    where = "seed 002, 'What are the gradients?' (binary cross-entropy)"
    t = matrix("t", 1, 1)
    return [
        Entry("seed002-bce-dyhat", "∂L/∂ŷ = −y/ŷ + (1 − y)/(1 − ŷ)", where, bce_batch, yh,
              -_hadamard(yb, _reciprocal(yh)) + _hadamard(_one_minus(yb), _reciprocal(_one_minus(yh)))),
        Entry("seed002-bce-dyhat-dz", "∂ŷ/∂z⁽³⁾ = σ(z⁽³⁾)(1 − σ(z⁽³⁾))", where, F.sigmoid(z), z, _sigmoid_prime(z),
              kind="jacobian"),
        Entry("seed002-bce-dz-dW3", "∂z⁽³⁾/∂W⁽³⁾ = v⁽²⁾ᵀ", where, z3, W3, v2.T),
        Entry("seed002-bce-dW3", "∂L/∂W⁽³⁾ = (y − ŷ) v⁽²⁾ᵀ", where, L, W3, (y - yhat) * v2.T,
              expect="off by a factor of -1",
              finding="The sign is wrong: ∂L/∂ŷ · σ′(z) = (ŷ − y), so ∂L/∂W⁽³⁾ = (ŷ − y)v⁽²⁾ᵀ. With the "
                      "seed's sign, the update W ← W − α∂L/∂W would climb the loss."),
        Entry("seed002-bce-dW3-corrected", "∂L/∂W⁽³⁾ = (ŷ − y) v⁽²⁾ᵀ", f"{where}, corrected", L, W3,
              (yhat - y) * v2.T),
        Entry("seed002-bce-db3", "∂L/∂b⁽³⁾ = ŷ − y", f"{where}, completed", L, b3, yhat - y),
        Entry("seed002-bce-dW2", "∂L/∂W⁽²⁾ = [W⁽³⁾ᵀ(ŷ − y) ⊙ v⁽²⁾ ⊙ (1 − v⁽²⁾)] v⁽¹⁾ᵀ",
              f"{where}, the chain rule completed", L, W2, back2 * v1.T),
        Entry("seed002-bce-db2", "∂L/∂b⁽²⁾ = W⁽³⁾ᵀ(ŷ − y) ⊙ v⁽²⁾ ⊙ (1 − v⁽²⁾)",
              f"{where}, the chain rule completed", L, b2, back2),
        Entry("seed002-chain-rule", "z = y², y = x²: ∂z/∂x = 4xy = 4x³", "seed 002, 'Chain rule'",
              F.power(F.power(t, 2), 2), t, 4 * F.power(t, 3)),
    ]


@lru_cache(maxsize=1)
def entries() -> tuple:
    """Every catalogue entry, in order (built once)."""
    groups = [
        ("Matrix Cookbook: determinants", _determinants), ("Matrix Cookbook: inverses", _inverses),
        ("Matrix Cookbook: first-order forms", _first_order), ("Matrix Cookbook: second-order forms", _second_order),
        ("Matrix Cookbook: higher-order forms, gradient and Hessian", _higher_order),
        ("Matrix Cookbook: traces", _traces), ("Matrix Cookbook: traces of inverses", _trace_inverses),
        ("Matrix Cookbook: norms", _norms), ("Matrix Cookbook: symmetric matrices", _symmetric),
        ("Least squares, ridge and logistic regression", _regression),
        ("Softmax regression", _classifiers), ("Vector functions: log-sum-exp, softmax, activations", _vector_functions),
        ("Neural-network layers and losses", _layers), ("Gaussian log-likelihood", _gaussian),
        ("Seed 000: Choi, backpropagation notes", _seed000), ("Seed 001: gradient descent & backpropagation post", _seed001),
        ("Seed 002: backpropagation slides", _seed002),
    ]
    result = []
    for title, build in groups:
        result.extend(replace(entry, group=title) for entry in build())
    ids = [e.id for e in result]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"duplicate catalogue ids: {duplicates}"
    return tuple(result)


# ---------------------------------------------------------------- running it

def _short_error(result) -> str:
    error = result.max_rel_error
    return "—" if error == float("inf") else f"{error:.1e}"


def _check(entry, seed):
    """Verify one entry; an exception inside matcalc becomes an "error" verdict naming it,
    so one broken rule does not hide the rest of the table."""
    try:
        return entry.check(seed=seed)
    except Exception as exc:  # noqa: BLE001 - reported in the table and counted as a regression
        result = VerificationResult(
            ok=False, diagnosis="error", symbolic_equal=None, max_rel_error=float("inf"), tolerance=1e-6,
            function=entry.function, wrt=entry.wrt, kind=entry.kind, layout=entry.layout, convention=None,
            expected=entry.claimed if isinstance(entry.claimed, sympy.Basic) else None,
            derived=sympy.S.NaN, detail=f"{type(exc).__name__}: {exc}")
        result.entry = entry
        return result


def verify_catalogue(selection=None, *, seed=0, file=None, table=True) -> list:
    """Check every catalogue entry (or those whose id is in ``selection``) and print a table.

    Returns the list of :class:`~matcalc.verify.VerificationResult`, each with ``.entry``
    set; ``result.diagnosis == result.entry.expect`` for every entry unless something
    regressed (the last line of the table counts regressions).
    """
    chosen = [e for e in entries() if selection is None or e.id in set(selection)]
    results = []
    out = sys.stdout if file is None else file
    started = time.perf_counter()
    for entry in chosen:
        results.append(_check(entry, seed))
    elapsed = time.perf_counter() - started
    if table:
        width = max((len(e.id) for e in chosen), default=10)
        print(f"{'identity':<{width}}  {'verdict':<32} {'error':>8}  source", file=out)
        for result in results:
            entry = result.entry
            mark = "" if result.diagnosis == entry.expect else f"  REGRESSION (expected {entry.expect})"
            if mark and entry.known_issue:
                mark = f"  known issue: {entry.known_issue}"
            print(f"{entry.id:<{width}}  {result.diagnosis:<32} {_short_error(result):>8}  {entry.source}{mark}",
                  file=out)
        holds = sum(r.diagnosis == "holds" for r in results)
        findings = sum(r.entry.expect != "holds" and r.diagnosis == r.entry.expect for r in results)
        known = sum(r.diagnosis != r.entry.expect and bool(r.entry.known_issue) for r in results)
        regressions = sum(r.diagnosis != r.entry.expect for r in results) - known
        print(f"{len(results)} identities: {holds} hold, {findings} documented findings, "
              f"{regressions} regressions, {known} known issues ({elapsed:.1f} s)", file=out)
    return results


# ---------------------------------------------------------------- the Markdown report

def _latex(expr) -> str:
    try:
        from ..output.latex import latex
    except ImportError:  # the LaTeX printer is optional here
        return sympy.latex(expr)
    return latex(expr)


def _cell(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


def markdown_report(results) -> str:
    """A Markdown page of the catalogue: each identity, its source, the verdict, the error
    and matcalc's own derivative in LaTeX."""
    lines = ["# The matcalc catalogue of derivative identities", "",
             "Generated by `python -m matcalc.apps.catalogue --markdown docs/catalogue.md`; do not edit by hand.", "",
             "Each identity was checked by `matcalc.verify`: symbolically (both sides simplified and compared) "
             "and numerically (random instances at three sets of distinct sizes, float64, relative error "
             "against a tolerance of 1e-6, matcalc's own derivative cross-checked against central "
             "differences). A formula *holds* only when the numeric check passes. Matrix Cookbook equation "
             "numbers refer to the version of 15 November 2012.", ""]
    holds = sum(r.diagnosis == "holds" for r in results)
    findings = [r for r in results if r.entry.expect != "holds" and r.diagnosis == r.entry.expect]
    unexpected = [r for r in results if r.diagnosis != r.entry.expect]
    lines += [f"**{len(results)} identities**: {holds} hold; {len(findings)} are documented findings "
              f"(a published or commonly quoted formula that is wrong, or holds only under a convention "
              f"or assumption); {len(unexpected)} could not be checked as expected (listed below).", ""]
    if unexpected:
        lines += ["## Not checked as expected", "", "| identity | expected | got | why |", "|---|---|---|---|"]
        for r in unexpected:
            why = r.entry.known_issue or r.detail
            lines.append(f"| [{r.entry.id}](#{r.entry.id}) | {_cell(r.entry.expect)} | {_cell(r.diagnosis)} | "
                         f"{_cell(why)} |")
        lines.append("")
    if findings:
        lines += ["## Findings", "", "| identity | source | verdict | what matcalc finds |", "|---|---|---|---|"]
        for r in findings:
            lines.append(f"| [{r.entry.id}](#{r.entry.id}) | {_cell(r.entry.source)} | {_cell(r.diagnosis)} | "
                         f"{_cell(r.entry.finding or r.detail)} |")
        lines.append("")
    group = None
    for r in results:
        entry = r.entry
        if entry.group != group:
            group = entry.group
            lines += [f"## {group}", ""]
        lines += [f"### {entry.id}", "", f"**{_cell(entry.title)}**", "",
                  f"- source: {entry.source}",
                  f"- {entry.kind} with respect to ${_latex(r.wrt)}$"
                  + (f" ({entry.layout} layout)" if entry.kind == "jacobian" else "")
                  + (f", {r.convention} convention" if r.convention else ""),
                  f"- function: ${_latex(r.function)}$"]
        if r.expected is not None:
            lines.append(f"- claimed: ${_latex(r.expected)}$")
        else:
            lines.append(f"- claimed: ${entry.claim_text}$ (cannot be formed)" if entry.claim_text
                         else "- claimed: (cannot be formed)")
        lines.append(f"- matcalc: ${_latex(r.derived)}$")
        symbolic = {True: "equal", False: "not equal", None: "—"}[r.symbolic_equal]
        error = _short_error(r)
        lines.append(f"- verdict: **{r.diagnosis}** (numeric relative error {error}, symbolic: {symbolic})")
        if entry.finding:
            lines.append(f"- finding: {entry.finding}")
        elif r.detail:
            lines.append(f"- note: {r.detail}")
        if r.counterexample is not None and r.diagnosis != "holds":
            lines += ["", "  Counterexample:", "", "  ```"]
            lines += ["  " + line for line in str(r.counterexample).splitlines()]
            lines.append("  ```")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matcalc.apps.catalogue",
                                     description="Check the catalogue of textbook derivative identities.")
    parser.add_argument("--markdown", metavar="PATH", help="also write the Markdown report to PATH")
    parser.add_argument("--only", nargs="*", metavar="ID", help="check only these entries")
    parser.add_argument("--explain", action="store_true", help="print the full explanation of every finding")
    args = parser.parse_args(argv)
    results = verify_catalogue(args.only)
    if args.explain:
        for r in results:
            if r.diagnosis != "holds":
                print()
                print(f"[{r.entry.id}] {r.entry.source}")
                print(r.explain())
    if args.markdown:
        files.write(args.markdown, markdown_report(results), what="report")
        print(f"wrote {args.markdown}")
    return 0 if all(r.diagnosis == r.entry.expect or r.entry.known_issue for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
