"""Reading a Jacobian off a matrix differential, in the vec layout.

For a matrix variable X (m×n) and a function Y (p×q), the Jacobian is the (pq)×(mn) matrix J
with

    vec(dY) = J vec(dX),

vec stacking columns (Magnus & Neudecker's convention; numerator layout, J[i, j] =
∂ vec(Y)ᵢ / ∂ vec(X)ⱼ; the denominator layout is Jᵀ).  A vector Y or X is its own vec (a row
is read as a column), so for vectors this is the ordinary Jacobian.

:class:`VecReader` reads J off a differential dY that is linear in the symbol dX, one node
class at a time, with the identities that make Kronecker products exact:

* vec(A dX B) = (Bᵀ ⊗ A) vec(dX), with an absent A or B the identity;
* vec(dXᵀ) = K₍m,n₎ vec(dX), the commutation matrix;
* vec(F ⊙ G) = diag(vec F) vec(G), so f(X) entrywise gives diag(vec f′(X));
* vec(s M) = vec(M) r for a scalar s = r vec(dX) linear in dX: tr(A dX) = vec(Aᵀ)ᵀ vec(dX),
  sum(F ⊙ dX) = vec(F)ᵀ vec(dX);
* vec(diag g) = diag(vec I)(𝟏 ⊗ I) g and diagonal(M) = (𝟏ᵀ ⊗ I) diag(vec I) vec(M), with the
  shorter forms L diag(g) r = L diag(r) g and diagonal(L diag(g) R) = (L ⊙ Rᵀ) g first.

A differential with a node this reader has no identity for raises a
:class:`~matcalc.errors.DifferentiationError` that names it.  The engine
(:mod:`matcalc.calculus.derive`) builds dY and calls :func:`read_jacobian`; this module does
no differentiation of its own.
"""
from __future__ import annotations

from sympy.matrices.expressions import (
    HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr, OneMatrix, Trace, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..core import algebra, budget as _budget
from ..core.functions import SumAll
from ..core.kronecker import Vec, commutation, kron, vec
from ..errors import DifferentiationError
from .simplify import simplify, transposed

READ_OFF = "read off the Jacobian (vec layout)"
"""The rule name of the read-off step in a derivation."""


def is_matrix_shaped(expr) -> bool:
    """Whether ``expr`` is a matrix with more than one row and more than one column (a
    scalar, a 1×1 matrix and a row or column vector are not)."""
    if not isinstance(expr, MatrixExpr):
        return False
    rows, cols = expr.shape
    return rows != 1 and cols != 1


def read_jacobian(dY, dX, Y=None):
    """The Jacobian J with vec(dY) = J vec(dX), simplified, for a differential dY (matrix,
    vector or scalar) linear in the matrix symbol dX; the zero matrix (shaped by the
    function Y) for a zero dY."""
    rows = _length(Y if Y is not None else dY)
    columns = dX.shape[0] * dX.shape[1]
    if algebra.is_zero(dY):
        return ZeroMatrix(rows, columns)
    J = simplify(VecReader(dX).coefficient(dY))
    return ZeroMatrix(rows, columns) if algebra.is_zero(J) else J


def _length(expr):
    rows, cols = algebra.shape_of(expr)
    return rows * cols


def _identity(n):
    return algebra.build(Identity, n)


class VecReader:
    """Reads J with vec(expr) = J vec(v) off an expression linear in the matrix symbol v
    (memoised per node: a differential is a DAG)."""

    def __init__(self, v):
        self.v = v
        self.size = v.shape[0] * v.shape[1]
        self._depends_memo = {}
        self._memo = {}

    def has(self, expr) -> bool:
        return algebra.depends(expr, {self.v}, self._depends_memo)

    # ------------------------------------------------------------ matrices

    def coefficient(self, expr):
        """J with vec(expr) = J vec(v); a scalar expr is read as a 1×1 matrix."""
        try:
            return self._memo[expr]
        except KeyError:
            pass
        _budget.tick()
        result = self._memo[expr] = self._coefficient(expr)
        return result

    def _coefficient(self, expr):
        if expr == self.v:
            return _identity(self.size)
        if not isinstance(expr, MatrixExpr):
            return self.row(expr)
        if isinstance(expr, MatAdd):
            return algebra.add(*[self.coefficient(t) for t in expr.args if self.has(t)])
        if isinstance(expr, MatMul):
            return self._product(expr)
        if isinstance(expr, HadamardProduct):
            inside = [f for f in expr.args if self.has(f)]
            if len(inside) != 1:
                raise _not_linear(expr)
            outside = algebra.hadamard(*[f for f in expr.args if f is not inside[0]])
            # vec(F ⊙ G) = diag(vec F) vec(G)
            return algebra.mul(algebra.build(DiagMatrix, vec(outside)), self.coefficient(inside[0]))
        if isinstance(expr, Transpose):
            # vec(Gᵀ) = K₍p,q₎ vec(G) for a p×q G
            G = expr.arg
            return algebra.mul(commutation(*G.shape), self.coefficient(G))
        if isinstance(expr, Vec):
            return self.coefficient(expr.arg)
        if isinstance(expr, DiagMatrix):
            g = expr.args[0]
            n = expr.shape[0]
            # vec(diag g) = diag(vec I)(𝟏 ⊗ I) g: the column g repeated n times, masked to the diagonal
            return algebra.mul(algebra.build(DiagMatrix, vec(_identity(n))),
                               kron(algebra.build(OneMatrix, n, 1), _identity(n)), self.coefficient(g))
        if isinstance(expr, DiagonalOf):
            return self._diagonal(expr.arg)
        raise _no_matrix_form(expr)

    def _product(self, expr):
        coefficient, matrices = expr.as_coeff_matrices()
        positions = [i for i, m in enumerate(matrices) if self.has(m)]
        if not positions and self.has(coefficient):
            # vec(s M) = vec(M) r for a scalar s = r vec(v)
            constant, linear = coefficient.as_independent(self.v, as_Add=False)
            return algebra.mul(constant, vec(algebra.mul(*matrices)), self.row(linear))
        if len(positions) != 1 or self.has(coefficient):
            raise _not_linear(expr)
        i = positions[0]
        left, inner, right = matrices[:i], matrices[i], matrices[i + 1:]
        L = algebra.mul(*left) if left else None
        R = algebra.mul(*right) if right else None
        if isinstance(inner, DiagMatrix):
            shorter = self._diagonal_in_product(L, inner.args[0], R)
            if shorter is not None:
                return algebra.mul(coefficient, shorter)
        # vec(L G R) = (Rᵀ ⊗ L) vec(G)
        around = kron(transposed(R) if R is not None else _identity(inner.shape[1]),
                      L if L is not None else _identity(inner.shape[0]))
        return algebra.mul(coefficient, around, self.coefficient(inner))

    def _diagonal_in_product(self, L, g, R):
        """J for vec(L diag(g) R) when R is a column (L diag(g) r = L diag(r) g) or L a row
        (vec(l diag(g) R) = Rᵀ diag(lᵀ) g), else None."""
        if R is not None and R.shape[1] == 1:
            left = [L] if L is not None else []
            return algebra.mul(*left, algebra.build(DiagMatrix, R), self.coefficient(g))
        if L is not None and L.shape[0] == 1:
            right = [transposed(R)] if R is not None else []
            return algebra.mul(*right, algebra.build(DiagMatrix, vec(L)), self.coefficient(g))
        return None

    def _diagonal(self, M):
        """J for diagonal(M) (a column) with M square and linear in v."""
        if isinstance(M, MatAdd):
            return algebra.add(*[self._diagonal(t) for t in M.args if self.has(t)])
        if isinstance(M, DiagMatrix):
            return self.coefficient(M.args[0])     # diagonal(diag g) = g as a column
        if isinstance(M, MatMul):
            coefficient, matrices = M.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if len(positions) == 1 and not self.has(coefficient) and isinstance(matrices[positions[0]], DiagMatrix):
                # diagonal(L diag(g) R)ᵢ = Σⱼ Lᵢⱼ gⱼ Rⱼᵢ = ((L ⊙ Rᵀ) g)ᵢ
                i = positions[0]
                n = matrices[i].shape[0]
                L = algebra.mul(*matrices[:i]) if i else _identity(n)
                R = algebra.mul(*matrices[i + 1:]) if i + 1 < len(matrices) else _identity(n)
                return algebra.mul(coefficient, algebra.hadamard(L, transposed(R)),
                                   self.coefficient(matrices[i].args[0]))
        n = M.shape[0]
        # diagonal(M) = (𝟏ᵀ ⊗ I) diag(vec I) vec(M): keep the diagonal entries, then add up
        # the n blocks of vec(M) (each holds one of them)
        return algebra.mul(kron(algebra.build(OneMatrix, 1, n), _identity(n)),
                           algebra.build(DiagMatrix, vec(_identity(n))), self.coefficient(M))

    # ------------------------------------------------------------ scalars

    def row(self, s):
        """The row r with s = r vec(v), for a scalar s linear in v."""
        if isinstance(s, MatrixExpr):       # a 1×1 matrix is its own vec
            return self.coefficient(s)
        if isinstance(s, SumAll):
            return self.inner(algebra.ones_like(s.arg), s.arg)
        if isinstance(s, Trace):
            return self._trace(s.arg)
        if s.is_Add:
            return algebra.add(*[self.row(t) for t in s.args if self.has(t)])
        if s.is_Mul:
            constant, linear = s.as_independent(self.v, as_Add=False)
            if constant != 1:
                return algebra.mul(constant, self.row(linear))
        raise _not_linear(s)

    def _trace(self, M):
        """The row r with tr M = r vec(v)."""
        if M.shape == (1, 1):
            return self.coefficient(M)
        if isinstance(M, MatAdd):
            return algebra.add(*[self._trace(t) for t in M.args if self.has(t)])
        if isinstance(M, MatMul):
            coefficient, matrices = M.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if len(positions) == 1 and not self.has(coefficient):
                # tr(L G R) = tr(R L G) = sum((R L)ᵀ ⊙ G)
                i = positions[0]
                around = algebra.mul(*matrices[i + 1:], *matrices[:i])
                return algebra.mul(coefficient, self.inner(transposed(around), matrices[i]))
        return self.inner(_identity(M.shape[0]), M)

    def inner(self, F, G):
        """The row r with sum(F ⊙ G) = r vec(v), for a constant F shaped like G (linear in
        v): F is pushed through G's linear maps, their adjoints, down to v."""
        if G == self.v:
            return transposed(vec(F))
        if isinstance(G, MatAdd):
            return algebra.add(*[self.inner(F, t) for t in G.args if self.has(t)])
        if isinstance(G, MatMul):
            coefficient, matrices = G.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if len(positions) == 1 and not self.has(coefficient):
                # sum(F ⊙ L H R) = tr(Fᵀ L H R) = sum((Lᵀ F Rᵀ) ⊙ H)
                i = positions[0]
                left = [transposed(m) for m in reversed(matrices[:i])]
                right = [transposed(m) for m in reversed(matrices[i + 1:])]
                return algebra.mul(coefficient, self.inner(algebra.mul(*left, F, *right), matrices[i]))
        if isinstance(G, HadamardProduct):
            inside = [f for f in G.args if self.has(f)]
            if len(inside) == 1:
                rest = [f for f in G.args if f is not inside[0]]
                return self.inner(algebra.hadamard(F, *rest), inside[0])
        if isinstance(G, Transpose):
            return self.inner(transposed(F), G.arg)
        if isinstance(G, DiagMatrix):
            # sum(F ⊙ diag g) = Σᵢ Fᵢᵢ gᵢ
            g = G.args[0]
            diagonal = algebra.build(DiagonalOf, F)
            return self.inner(diagonal if g.shape[1] == 1 else transposed(diagonal), g)
        if isinstance(G, DiagonalOf):
            # sum(f ⊙ diagonal M) = sum(diag(f) ⊙ M)
            return self.inner(algebra.build(DiagMatrix, F), G.arg)
        return algebra.mul(transposed(vec(F)), self.coefficient(G))


def _not_linear(expr):
    return DifferentiationError(
        f"cannot read a Jacobian off the differential {expr} ({type(expr).__name__}): "
        f"it is not linear in the differential of the variable")


def _no_matrix_form(expr):
    return DifferentiationError(
        f"cannot read a Jacobian (vec layout) off the differential {expr}: vec of a "
        f"{type(expr).__name__} has no matrix form here (no Kronecker or permutation identity "
        f"for it); differentiate a scalar function of it with gradient instead")
