"""Small constructors that keep expressions tidy as rules build them.

Rules and the simplifier build new expressions through these helpers instead of raw
``MatMul``/``MatAdd``, so that scalars and 1×1 matrices mix freely, zero is pruned at once
(JAX's symbolic zero), and ones and identities never pile up.  No calculus here.
"""
from __future__ import annotations

import sympy
from sympy import S
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr, OneMatrix, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.hadamard import HadamardPower


def is_matrix(expr) -> bool:
    return isinstance(expr, MatrixExpr)


def is_zero(expr) -> bool:
    if expr is None:
        return True
    if is_matrix(expr):
        return isinstance(expr, ZeroMatrix) or (isinstance(expr, MatMul) and expr.args and expr.args[0] == 0)
    return expr == 0


def is_one(expr) -> bool:
    """The scalar 1 or a 1×1 matrix of ones / 1×1 identity (SymPy turns one into the other)."""
    if is_matrix(expr):
        if isinstance(expr, MatMul) and len(expr.args) == 1:
            expr = expr.args[0]
        return expr.shape == (1, 1) and isinstance(expr, (OneMatrix, Identity))
    return expr == 1


def is_ones(expr) -> bool:
    """A matrix of ones (any shape), including SymPy's 1×1 identity."""
    return isinstance(expr, OneMatrix) or is_one(expr)


def mul(*factors):
    """The product of scalars and conforming matrices, in order; None or zero → zero."""
    scalars, matrices = [], []
    for factor in factors:
        if factor is None:
            return None
        if is_matrix(factor):
            if isinstance(factor, MatMul):
                coeff, mats = factor.as_coeff_matrices()
                scalars.append(coeff)
                matrices.extend(mats)
            else:
                matrices.append(factor)
        else:
            scalars.append(_sympify(factor))
    coefficient = sympy.Mul(*scalars)
    # 1×1 identities and ones are the number 1 between conforming factors.
    if len(matrices) > 1:
        matrices = [m for m in matrices if not is_one(m)] or [matrices[0]]
    matrices = [m for m in matrices if not (isinstance(m, Identity) and len(matrices) > 1)] or matrices[:1]
    if coefficient == 0:
        return None
    if not matrices:
        return coefficient
    if any(isinstance(m, ZeroMatrix) for m in matrices):
        return None
    if len(matrices) == 1 and coefficient == 1:
        return matrices[0]
    return MatMul(coefficient, *matrices) if coefficient != 1 else MatMul(*matrices)


def add(*terms):
    """The sum of terms of one shape; None (zero) terms are dropped; no terms → None."""
    terms = [t for t in terms if not is_zero(t)]
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    if all(is_matrix(t) for t in terms):
        total = MatAdd(*terms).doit(deep=False)
        if isinstance(total, MatAdd):
            total = MatAdd(*sorted(total.args, key=term_order))
        return total
    if not any(is_matrix(t) for t in terms):
        return sympy.Add(*terms)
    # a scalar and 1×1 matrices: keep them matrices
    return MatAdd(*[t if is_matrix(t) else t * OneMatrix(1, 1) for t in terms]).doit(deep=False)


def term_order(term):
    """Sort key of the terms of a sum: positive terms first, then a fixed order."""
    from sympy.core.sorting import default_sort_key
    if isinstance(term, MatMul):
        coefficient, matrices = term.as_coeff_matrices()
        return (bool(coefficient.could_extract_minus_sign()), default_sort_key(MatMul(*matrices)))
    return (False, default_sort_key(term))


def neg(expr):
    return mul(-1, expr)


def transpose(expr):
    if expr is None:
        return None
    if not is_matrix(expr):
        return expr
    return expr.T


def hadamard(*factors):
    """Entrywise product; a scalar factor scales; ones are dropped; zero → None."""
    scalars, matrices = [], []
    for factor in factors:
        if factor is None:
            return None
        if is_matrix(factor):
            if isinstance(factor, MatMul):
                coeff, mats = factor.as_coeff_matrices()
                if coeff != 1:
                    scalars.append(coeff)
                    factor = mul(*mats)
            if isinstance(factor, HadamardProduct):
                matrices.extend(factor.args)
            else:
                matrices.append(factor)
        else:
            scalars.append(_sympify(factor))
    if any(isinstance(m, ZeroMatrix) for m in matrices):
        return None
    shape = matrices[0].shape if matrices else None
    kept = [m for m in matrices if not is_ones(m)]
    if matrices and not kept:
        kept = [matrices[0]]
    if not kept:
        return sympy.Mul(*scalars)
    product = kept[0] if len(kept) == 1 else HadamardProduct(*kept)
    assert product.shape == shape
    return mul(*scalars, product)


def reciprocal(expr):
    """1 ⊘ X entrywise for a matrix, 1/x for a scalar."""
    return HadamardPower(expr, -1) if is_matrix(expr) else 1 / expr


def ones_like(expr):
    return OneMatrix(*expr.shape)


def zero_like(expr):
    return ZeroMatrix(*expr.shape) if is_matrix(expr) else S.Zero


def one_minus(expr):
    """1 − X with 1 the matrix of ones of X's shape."""
    return add(ones_like(expr), neg(expr))


def shape_of(expr):
    return expr.shape if is_matrix(expr) else (1, 1)


def sum_entries(expr):
    """The scalar sum of the entries of a matrix expression (itself for a scalar)."""
    from .functions import SumAll
    return SumAll(expr) if is_matrix(expr) else expr


def transpose_free(expr) -> bool:
    return not isinstance(expr, Transpose)
