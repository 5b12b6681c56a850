"""Stationary points of quadratic losses: solve ∇L(w) = 0 when the gradient is linear in w.

For a vector w the gradient is affine, g(w) = H w + c (H the Hessian, c = g(0)).  H is read
off with :func:`matcalc.derive.jacobian` (the Jacobian of the gradient, the same linear
extraction the differentiator uses), c by setting w to zero, and

* column w (seed 002, ESL): H w + c = 0  ⇒  ŵ = −H⁻¹ c, e.g. ridge (XᵀX + λI)⁻¹Xᵀy;
* row w (seed 000): gᵀ = H wᵀ + cᵀ  ⇒  ŵ = −c H⁻ᵀ, e.g. OLS ŵ = yX(XᵀX)⁻¹.

A scalar factor of H is taken out of the inverse ((2M)⁻¹ = M⁻¹/2), so the result reads
like a textbook.  The solution assumes H is invertible, as the textbooks do.
"""
from __future__ import annotations

import sympy
from sympy.matrices.expressions import Inverse, MatMul, MatrixExpr, ZeroMatrix

from ..core import algebra, budget as _budget
from ..calculus.derive import gradient, jacobian
from ..errors import DifferentiationError
from ..core.shapes import shape_text
from ..calculus.simplify import simplify

__all__ = ["solve_stationary"]


@_budget.budgeted("solving")
def solve_stationary(L, w):
    """The w with ∇_w L = 0, for a scalar L whose gradient is linear (affine) in the vector w.

    Returns an expression shaped like w.  Raises :class:`DifferentiationError` when w is
    not a vector or when ∇L is not linear in w (say, a logistic loss).
    """
    if not isinstance(w, MatrixExpr) or not hasattr(w, "name"):
        raise DifferentiationError(f"solve_stationary solves for a vector symbol, not {w!r}")
    rows, cols = w.shape
    if rows != 1 and cols != 1:
        raise DifferentiationError(
            f"solve_stationary solves for a row or column vector; {shape_text(w)} is a matrix "
            f"(solve for each column, or write the loss in terms of a vector)")
    g = gradient(L, w)
    try:
        H = simplify(jacobian(g, w))
    except DifferentiationError as exc:
        raise DifferentiationError(f"∇L = {g} is not linear in {w.name}, so ∇L = 0 has no closed form here") from exc
    if H.has(w):
        raise DifferentiationError(f"∇L = {g} is not linear in {w.name} (its Jacobian {H} depends on {w.name})")
    if algebra.is_zero(H):
        raise DifferentiationError(f"∇L = {g} does not depend on {w.name}: there is no unique stationary point")
    c = simplify(g.xreplace({w: ZeroMatrix(*w.shape)}).doit())
    coefficient, inverse = _inverse(H)
    if c is None or algebra.is_zero(c):
        return ZeroMatrix(*w.shape)
    if cols == 1:
        solution = algebra.mul(-1 / coefficient, inverse, c)
    else:
        solution = algebra.mul(-1 / coefficient, c, algebra.transpose(inverse))
    return simplify(solution)


def _inverse(H):
    """(α, M⁻¹) with H⁻¹ = M⁻¹/α: a scalar factor of H comes out of the inverse."""
    if isinstance(H, MatMul):
        coefficient, matrices = H.as_coeff_matrices()
        if coefficient != 1:
            return coefficient, Inverse(algebra.mul(*matrices))
    return sympy.S.One, Inverse(H)
