"""Kronecker products, vec and the commutation matrix: the nodes of matrix-by-matrix
derivatives.

The conventions are Magnus & Neudecker's (*Matrix Differential Calculus*, ch. 2):

* ``vec(X)`` stacks the columns of an m×n matrix X into one mn×1 column, so entry
  (i, j) of X is entry i + m·j of vec(X) (NumPy's ``X.reshape(-1, 1, order="F")``);
* ``A ⊗ B`` is SymPy's :class:`~sympy.matrices.expressions.kronecker.KroneckerProduct`
  (NumPy's ``np.kron``), and vec(A X B) = (Bᵀ ⊗ A) vec(X);
* the commutation matrix ``K₍m,n₎`` (mn×mn) permutes vec(X) into vec(Xᵀ) for an m×n X:
  K₍m,n₎ vec(X) = vec(Xᵀ).  K₍m,n₎ᵀ = K₍n,m₎ = K₍m,n₎⁻¹, and K₍m,1₎ = K₍1,n₎ = I.

The constructors here keep expressions tidy the way :mod:`matcalc.core.algebra` does, looking
at direct arguments only: a Kronecker product is flattened, pulls its scalar factors out and
drops 1×1 identity factors, I ⊗ I is one identity; the vec of a column is the column itself
(of a row, its transpose).  No calculus here.
"""
from __future__ import annotations

from sympy import Basic, Integer, S
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import Identity, MatMul, MatrixExpr, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from . import algebra
from .shapes import cached_shape

__all__ = ["KroneckerProduct", "Vec", "CommutationMatrix", "kron", "vec", "commutation"]


class Vec(MatrixExpr):
    """vec(X): the columns of X stacked into one column (mn×1 for an m×n X)."""

    def __new__(cls, arg):
        arg = _sympify(arg)
        if not isinstance(arg, MatrixExpr):
            raise TypeError(f"vec takes a matrix expression, got {arg!r}")
        return Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @cached_shape
    def shape(self):
        rows, cols = self.arg.shape
        return (rows * cols, Integer(1))

    def _entry(self, i, j, **kwargs):
        rows = self.arg.shape[0]
        return self.arg._entry(i % rows, i // rows, **kwargs)


class CommutationMatrix(MatrixExpr):
    """K₍m,n₎: the mn×mn permutation with K₍m,n₎ vec(X) = vec(Xᵀ) for every m×n X."""

    def __new__(cls, rows, cols):
        return Basic.__new__(cls, _sympify(rows), _sympify(cols))

    @property
    def rows_of_x(self):
        """m: the number of rows of the X whose vec this matrix transposes."""
        return self.args[0]

    @property
    def cols_of_x(self):
        """n: the number of columns of that X."""
        return self.args[1]

    @cached_shape
    def shape(self):
        size = self.args[0] * self.args[1]
        return (size, size)

    def _entry(self, i, j, **kwargs):
        # row i of K is the entry (i // n, i % n) of Xᵀ's vec, i.e. X's entry (i % n, i // n)
        m, n = self.args
        return S.One if j == (i // n) + m * (i % n) else S.Zero


KroneckerProduct.shape = cached_shape(KroneckerProduct.shape.fget)


def _is_identity(expr) -> bool:
    return isinstance(expr, Identity) or algebra.is_one(expr)


def kron(*factors):
    """A ⊗ B ⊗ …, tidy: nested products flattened, scalar coefficients pulled in front
    ((cA) ⊗ B = c (A ⊗ B)), 1×1 identities dropped, adjacent identities merged
    (I_a ⊗ I_b = I_ab); a zero factor makes the zero matrix (None, as in algebra)."""
    scalars, matrices = [], []
    for factor in factors:
        if factor is None:
            return None
        if not algebra.is_matrix(factor):
            scalars.append(_sympify(factor))
            continue
        if isinstance(factor, MatMul):
            coefficient, rest = factor.as_coeff_matrices()
            if coefficient != 1:
                scalars.append(coefficient)
                factor = algebra.mul(*rest)
        if isinstance(factor, KroneckerProduct):
            matrices.extend(factor.args)
        else:
            matrices.append(factor)
    if any(isinstance(m, ZeroMatrix) for m in matrices):
        return None
    kept = []
    for m in matrices:
        if algebra.is_one(m) and m.shape == (1, 1):
            continue
        if kept and isinstance(m, Identity) and isinstance(kept[-1], Identity):
            kept[-1] = algebra.build(Identity, kept[-1].shape[0] * m.shape[0])
        else:
            kept.append(m)
    if not kept:
        product = algebra.build(Identity, S.One)
    elif len(kept) == 1:
        product = kept[0]
    else:
        product = algebra.build(KroneckerProduct, *kept)
    return algebra.mul(*scalars, product)


def vec(expr):
    """vec(X), tidy: the vec of a column is itself, of a row its transpose, of c X is
    c vec(X), of a matrix of ones (zeros) the column of ones (zeros)."""
    if expr is None:
        return None
    rows, cols = expr.shape
    if cols == 1:
        return expr
    if rows == 1:
        return algebra.transpose(expr)
    if isinstance(expr, MatMul):
        coefficient, rest = expr.as_coeff_matrices()
        if coefficient != 1:
            return algebra.mul(coefficient, vec(algebra.mul(*rest)))
    if isinstance(expr, (OneMatrix, ZeroMatrix)):
        return algebra.build(type(expr), rows * cols, S.One)
    return algebra.build(Vec, expr)


def commutation(rows, cols):
    """K₍rows,cols₎, the identity when X is a vector (K₍m,1₎ = K₍1,n₎ = I)."""
    rows, cols = _sympify(rows), _sympify(cols)
    if rows == 1 or cols == 1:
        return algebra.build(Identity, rows * cols)
    return algebra.build(CommutationMatrix, rows, cols)
