"""Canonical form and textbook factoring of matrix expressions.

``simplify`` rewrites bottom-up until nothing changes:

* transposes are pushed down onto symbols ((AB)ᵀ → BᵀAᵀ, symmetric Sᵀ → S);
* zero, identities and ones are pruned (A ⊙ 1 → A, I A → A, 1ᵀ1 → n, Y1 → 1 for one-hot Y);
* like terms are collected and a sum is expanded only when that makes terms cancel
  (y ⊙ (1 − p) − (1 − y) ⊙ p → y − p);
* common factors are pulled out: the scalar one (Ŷ/N − Y/N → (Ŷ − Y)/N), a left or right
  matrix factor (xA + xAᵀ → x(A + Aᵀ)) and a Hadamard factor (A ⊙ C + B ⊙ C → (A + B) ⊙ C);
* 1×1 artefacts go: tr(b) and sum(b) of a 1×1 b are one scalar (printed as the entry),
  sum(v)·1 → 𝟏ᵀv, 1×1 factors multiply as numbers ((ŷ − y) ŷ (1 − ŷ), not ⊙), a 1×1
  product takes its shorter orientation (xᵀAᵀx → xᵀAx);
* textbook identities: exp(Z) ⊘ (𝟏 + exp(Z)) = 1 ⊘ (𝟏 + exp(−Z)) = σ(Z), σ(Z) ⊙ σ(−Z) =
  σ(Z) ⊙ (𝟏 − σ(Z)); a scalar goes into an inverse when that is shorter
  ((1/n)(λI + (1/n)XᵀX)⁻¹ → (XᵀX + nλI)⁻¹); −Σ⁻¹(x − μ)(x − μ)ᵀΣ⁻¹ keeps its minus outside.

No calculus here: rules produce raw derivatives, this layer makes them read like a textbook.
"""
from __future__ import annotations

import itertools
from functools import reduce

import sympy
from sympy import Basic, S
from sympy.matrices.expressions import (
    HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, MatrixExpr, OneMatrix, Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol

from ..core import algebra, budget
from ..core.algebra import memoised, rebuild
from ..core.functions import Elementwise, Exp, LogSumExp, Sigmoid, Softmax, SumAll
from ..core.kronecker import CommutationMatrix, KroneckerProduct, Vec, commutation, kron, vec
from ..core.symbols import assumptions_of

MAX_PASSES = 12
MAX_EXPANDED_TERMS = 64


def simplify(expr):
    """Canonicalise and factor ``expr`` (a matrix or scalar expression); None → None.

    Every helper below is memoised per node and looks at a node and its direct
    arguments, so simplifying a DAG costs time in proportion to its distinct nodes; the
    results of earlier calls are reused, which is what makes a derivation linear."""
    if expr is None:
        return None
    with budget.stage("simplifying"):
        for _ in range(MAX_PASSES):
            budget.tick()
            new = _rewrite(expr)
            if new == expr:
                break
            expr = new
        return _present(new)


@memoised
def _present(expr):
    """Fold a sum of transposes back into the transpose of a sum: xᵀ − μᵀ → (x − μ)ᵀ.  Canonical forms stay canonical: this is a fixed,
    deterministic last step, and the next ``simplify`` pushes the transpose down again."""
    if not isinstance(expr, Basic) or not expr.args or isinstance(
            expr, (SympyMatrixSymbol, OneMatrix, Identity, ZeroMatrix)):
        return expr
    if isinstance(expr, (Softmax, LogSumExp)):
        node = type(expr)(_present(expr.arg), expr.axis)
    else:
        args = [_present(a) for a in expr.args]
        node = expr if tuple(args) == expr.args else rebuild(expr, args)
    if isinstance(node, MatAdd) and all(isinstance(_split(t)[1], Transpose) for t in node.args):
        return algebra.build(Transpose, _sum_of([(c, m.arg) for c, m in (_split(t) for t in node.args)]))
    return node


@memoised
def size(expr) -> int:
    """A node count: the measure "shorter" refers to (symbols count 1, transposes 1 more)."""
    if isinstance(expr, (SympyMatrixSymbol, OneMatrix, Identity, ZeroMatrix)) or not expr.args:
        return 1
    if isinstance(expr, (Softmax, LogSumExp)):
        return 1 + size(expr.arg)
    return 1 + sum(size(a) for a in expr.args)


# ------------------------------------------------------------------ the bottom-up pass

def _zero(result, like):
    if result is None:
        return algebra.zero_like(like)
    return result


@memoised
def _rewrite(expr):
    """One bottom-up pass.  Memoised: rewriting is pure, and derivatives repeat the forward
    expressions in every step, so each distinct subexpression is rewritten once."""
    return _rewrite_node(expr)


def _rewrite_node(expr):
    if isinstance(expr, OneMatrix) and expr.shape == (1, 1):
        return algebra.build(Identity, S.One)  # SymPy's own canonical 1×1 matrix of ones
    if not isinstance(expr, Basic) or not expr.args or isinstance(expr, (SympyMatrixSymbol, OneMatrix, Identity, ZeroMatrix)):
        return expr
    if isinstance(expr, (Softmax, LogSumExp)):
        node = type(expr)(_rewrite(expr.arg), expr.axis)
    else:
        args = [_rewrite(a) for a in expr.args]
        node = _rebuild(expr, args)
    for klass in type(node).__mro__:
        if klass in REWRITES:
            return _zero(REWRITES[klass](node), node)
    return node


def _rebuild(expr, args):
    if isinstance(expr, MatMul):
        return _zero(algebra.mul(*args), expr)
    if isinstance(expr, MatAdd):
        return _zero(algebra.add(*args), expr)
    if isinstance(expr, HadamardProduct):
        return _zero(algebra.hadamard(*args), expr)
    if tuple(args) == expr.args:
        return expr
    return rebuild(expr, args)


REWRITES = {}


def rewrite(cls):
    def register(function):
        REWRITES[cls] = function
        return function
    return register


# ------------------------------------------------------------------ transposes

@rewrite(Transpose)
def _transpose(node):
    """Push a transpose down onto symbols."""
    return transposed(node.arg)


@memoised
def transposed(arg):
    """argᵀ with the transpose pushed down onto symbols, in canonical form (a 1×1 is its
    own transpose); ``algebra.transpose`` builds the raw form rules produce."""
    if arg.shape == (1, 1):
        return arg  # a 1×1 matrix is its own transpose
    if isinstance(arg, SympyMatrixSymbol):
        return algebra.transpose(arg)
    if isinstance(arg, Transpose):
        return arg.arg
    if isinstance(arg, MatMul):
        coefficient, matrices = arg.as_coeff_matrices()
        return algebra.mul(coefficient, *[transposed(m) for m in algebra.reversed_product(matrices)])
    if isinstance(arg, MatAdd):
        return algebra.add(*[transposed(t) for t in arg.args])
    if isinstance(arg, HadamardProduct):
        return algebra.hadamard(*[transposed(f) for f in arg.args])
    if isinstance(arg, HadamardPower):
        return algebra.build(HadamardPower, transposed(arg.args[0]), arg.args[1])
    if isinstance(arg, (OneMatrix, ZeroMatrix)):
        return algebra.build(type(arg), arg.shape[1], arg.shape[0])
    if isinstance(arg, (Identity, DiagMatrix)):
        return arg
    if isinstance(arg, Inverse):
        return _inverse(algebra.inverse(transposed(arg.arg)))
    if isinstance(arg, MatPow) and arg.exp.is_Integer:
        base, k = algebra.base_and_exponent(arg)
        return algebra.matrix_power(transposed(base), k)
    if isinstance(arg, KroneckerProduct):
        # (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
        return kron(*[transposed(f) for f in arg.args])
    if isinstance(arg, CommutationMatrix):
        # K₍m,n₎ᵀ = K₍n,m₎
        return commutation(arg.cols_of_x, arg.rows_of_x)
    if isinstance(arg, MatPow):
        return algebra.build(MatPow, transposed(arg.base), arg.exp)   # (Aᵖ)ᵀ = (Aᵀ)ᵖ
    if isinstance(arg, Elementwise) and isinstance(arg.arg, Transpose):
        # f(Zᵀ)ᵀ = f(Z) (SymPy writes y.applyfunc(sin).T as yᵀ.applyfunc(sin))
        return algebra.build(type(arg), arg.arg.arg)
    # f(Z)ᵀ stays as it is: textbooks write A₁ᵀ, not σ(Z₁ᵀ).
    return algebra.build(Transpose, arg)


@rewrite(Inverse)
def _inverse(node):
    if not isinstance(node, Inverse):
        return node
    arg = node.arg
    if isinstance(arg, Inverse):
        return arg.arg
    if isinstance(arg, Identity):
        return arg
    if isinstance(arg, Transpose) and {"symmetric", "spd"} & assumptions_of(arg.arg):
        return algebra.inverse(arg.arg)
    return node


# ------------------------------------------------------------------ products

def _is_onehot(expr) -> bool:
    return "onehot" in assumptions_of(expr)


@rewrite(MatMul)
def _matmul(node):
    coefficient, matrices = node.as_coeff_matrices()
    matrices = list(matrices)
    if len(matrices) == 1 and algebra.is_one(matrices[0]):
        entry = _entry_as_matrix(coefficient)
        if entry is not None:
            return entry
    changed = True
    while changed and len(matrices) > 1:
        changed = False
        for i in range(len(matrices) - 1):
            left, right = matrices[i], matrices[i + 1]
            merged = _merge_pair(left, right)
            if merged is not None:
                factor, replacement = merged
                coefficient *= factor
                matrices[i:i + 2] = replacement
                changed = True
                break
    coefficient, matrices = _normalise_sign(coefficient, matrices)
    matrices = _sort_one_by_one_runs(matrices)
    matrices = _oriented(matrices)
    product = algebra.mul(coefficient, *matrices)
    scaled = _scale_into_inverse(coefficient, matrices)
    if scaled is not None and size(scaled) < size(product):
        product = scaled
    distributed = _distribute_diagonal(coefficient, matrices)
    if distributed is not None and size(distributed) < size(product):
        return distributed
    return product


def _oriented(matrices):
    """A 1×1 product equals its transpose: xᵀAᵀx → xᵀAx, the shorter (a tie keeps the
    product as written, xᵀu), so 1 ⊘ (xᵀAᵀx) and 1 ⊘ (xᵀAx) are one factor and collect."""
    if len(matrices) < 2 or matrices[0].shape[0] != 1 or matrices[-1].shape[1] != 1:
        return matrices
    flipped = [transposed(m) for m in algebra.reversed_product(matrices)]
    return flipped if sum(map(size, flipped)) < sum(map(size, matrices)) else matrices


def _sort_one_by_one_runs(matrices):
    """Adjacent 1×1 factors commute (they multiply as numbers): each run of them is an
    entrywise product in textbook order (a transpose, which reverses a product, leaves
    (ŷ − y) ŷ (1 − ŷ) as it was), with powers of one base merged."""
    result, run = [], []
    for m in matrices + [None]:
        if m is not None and m.shape == (1, 1):
            run.append(m)
            continue
        result.extend((_entrywise(run) or [algebra.build(Identity, 1)]) if len(run) > 1 else run)
        run = []
        if m is not None:
            result.append(m)
    return result


def _scale_into_inverse(coefficient, matrices):
    """c A⁻¹ = (A/c)⁻¹ for the factors of c known to be nonzero (the sign stays outside),
    when A/c is no longer than A: (1/n)(λI + (1/n) XᵀX)⁻¹ Xᵀy → (XᵀX + nλI)⁻¹ Xᵀy, while
    2 det(M) (XᵀX)⁻¹ keeps its 2 outside.  None when there is nothing to move."""
    k = algebra.scalar_mul(*[f for f in sympy.Mul.make_args(coefficient) if _known_nonzero(f) and f != -1])
    if k == 1:
        return None
    for i, m in enumerate(matrices):
        if isinstance(m, Inverse):
            inside = _scaled((m.arg, 1 / k))
            if size(inside) > size(m.arg):
                continue
            return algebra.mul(coefficient / k, *matrices[:i], algebra.inverse(inside), *matrices[i + 1:])
    return None


@memoised
def _known_nonzero(factor) -> bool:
    """A number other than 0, or a power of a symbol SymPy knows is nonzero (a dimension n):
    SymPy's own ``is_nonzero`` on a function of matrices can fail or take long."""
    base = factor.base if factor.is_Pow and factor.exp.is_Number else factor
    if base.is_Number:
        return base != 0
    return bool(base.is_Symbol and base.is_nonzero)


@memoised
def _scaled(matrix_and_factor):
    """factor · matrix, distributed over the terms of a sum (n (λI + (1/n) M) = nλI + M);
    remembered per pair, as every product holding one inverse asks for the same."""
    matrix, factor = matrix_and_factor
    if isinstance(matrix, MatAdd):
        return _sum_of(_collect([algebra.mul(factor, t) for t in matrix.args]))
    return algebra.mul(factor, matrix)


def _entry_as_matrix(coefficient):
    """c·1 for a scalar c holding the sum of a vector or a 1×1: sum(v) 1 → 𝟏ᵀ v (column v),
    v 𝟏 (row v), v (1×1 v), so a gradient with respect to a 1×1 b reads 𝟏ᵀ σ(X w + b 𝟏);
    None when c holds no such sum.  A product v stays inside its sum: flattened into the
    products around it, sum(A x) would no longer collect with its like terms."""
    factors = sympy.Mul.make_args(coefficient)
    for i, factor in enumerate(factors):
        if isinstance(factor, SumAll) and 1 in factor.arg.shape and not isinstance(factor.arg, MatMul):
            v = factor.arg
            if v.shape[1] == 1 and v.shape[0] != 1:
                v = algebra.mul(algebra.build(OneMatrix, 1, v.shape[0]), v)
            elif v.shape[0] == 1 and v.shape[1] != 1:
                v = algebra.mul(v, algebra.build(OneMatrix, v.shape[1], 1))
            return algebra.mul(*factors[:i], *factors[i + 1:], v)
    return None


def _distribute_diagonal(coefficient, matrices):
    """diag(s)(I − 1 sᵀ) → diag(s) − s sᵀ: distribute a sum next to a diagonal matrix,
    kept only when the result is shorter."""
    for i, m in enumerate(matrices):
        if not isinstance(m, MatAdd):
            continue
        neighbours = matrices[max(i - 1, 0):i] + matrices[i + 1:i + 2]
        if not any(isinstance(n, DiagMatrix) for n in neighbours):
            continue
        terms = [algebra.mul(coefficient, *matrices[:i], t, *matrices[i + 1:]) for t in m.args]
        # local rewrites and like terms only: factoring here would pull diag(s) back out
        collected = _collect([simplify_term(t) for t in terms if t is not None])
        return _sum_of(collected) if collected else None
    return None


def _normalise_sign(coefficient, matrices):
    """−c (y − wXᵀ) X → c (wXᵀ − y) X: move a leading minus into a sum that has as many
    negative terms as positive ones, so results read like textbooks; and make a sum agree
    with its negation elsewhere in the product: (a − x)(x − a)ᵀ → −(x − a)(x − a)ᵀ."""
    coefficient, matrices = _match_negated_sums(coefficient, matrices)
    if not coefficient.could_extract_minus_sign():
        return coefficient, matrices
    for i, m in enumerate(matrices):
        if isinstance(m, MatAdd) and not _pairs_with_another(m, i, matrices):
            negatives = sum(1 for t in m.args if _split(t)[0].could_extract_minus_sign())
            if 2 * negatives >= len(m.args):
                return -coefficient, matrices[:i] + [_negated_sum(m)] + matrices[i + 1:]
    return coefficient, matrices


@memoised
def _negated_sum(m):
    """−m for a sum m, with every term's sign flipped."""
    return _sum_of([(-c, t) for c, t in (_split(t) for t in m.args)])


def _match_negated_sums(coefficient, matrices):
    """Flip the sign of a sum whose negation occurs later in the product (as itself or
    transposed), the minus going into the coefficient; the later one, which the forward
    expression wrote, keeps its orientation."""
    sums = [i for i, m in enumerate(matrices) if isinstance(m, MatAdd)]
    for i in sums:
        flipped = _negated_sum(matrices[i])
        if any(j > i and (matrices[j] == flipped or transposed(matrices[j]) == flipped) for j in sums):
            matrices = matrices[:i] + [flipped] + matrices[i + 1:]
            coefficient = -coefficient
    return coefficient, matrices


def _pairs_with_another(m, i, matrices) -> bool:
    """Whether the sum ``m`` (at position i) occurs elsewhere in the product, as itself or
    transposed: −Σ⁻¹ (x − μ)(x − μ)ᵀ Σ⁻¹ keeps its minus outside, rather than splitting
    the outer product into (μ − x)(x − μ)ᵀ."""
    return any(j != i and isinstance(n, (MatAdd, Transpose)) and (n == m or transposed(n) == m)
               for j, n in enumerate(matrices))


def _merge_pair(left, right):
    """(scalar factor, replacement factors) for an adjacent pair that simplifies, else None."""
    if isinstance(left, OneMatrix) and isinstance(right, OneMatrix):
        # 1_{a×b} 1_{b×c} = b 1_{a×c}
        return left.shape[1], [OneMatrix(left.shape[0], right.shape[1])]
    if _is_onehot(left) and isinstance(right, OneMatrix):
        # one-hot rows sum to 1: Y 1 = 1
        return S.One, [OneMatrix(left.shape[0], right.shape[1])]
    if isinstance(left, OneMatrix) and isinstance(right, Transpose) and _is_onehot(right.arg):
        return S.One, [OneMatrix(left.shape[0], right.shape[1])]
    if isinstance(right, Inverse) and right.arg == left or isinstance(left, Inverse) and left.arg == right:
        return S.One, [Identity(left.shape[0])]
    if isinstance(left, OneMatrix) and isinstance(right, DiagMatrix):
        # 1 diag(s) = 1 sᵀ (each column scaled)
        return S.One, [OneMatrix(left.shape[0], 1), _as_row(right.args[0])]
    if isinstance(left, DiagMatrix) and isinstance(right, OneMatrix):
        return S.One, [_as_column(left.args[0]), OneMatrix(1, right.shape[1])]
    if isinstance(left, DiagMatrix) and right.shape[1] == 1:
        # diag(u) v = u ⊙ v
        u = left.args[0]
        u = u if u.shape[1] == 1 else u.T
        return S.One, [algebra.hadamard(u, right)]
    if isinstance(right, DiagMatrix) and left.shape[0] == 1:
        u = right.args[0]
        u = u if u.shape[0] == 1 else u.T
        return S.One, [algebra.hadamard(left, u)]
    if isinstance(left, CommutationMatrix) and isinstance(right, CommutationMatrix) and \
            left.args == right.args[::-1]:
        # K₍m,n₎ K₍n,m₎ = I
        return S.One, [Identity(left.shape[0])]
    if isinstance(left, KroneckerProduct) and isinstance(right, KroneckerProduct) and \
            len(left.args) == len(right.args) and \
            all(a.shape[1] == b.shape[0] for a, b in zip(left.args, right.args)):
        # the mixed product: (A ⊗ B)(C ⊗ D) = AC ⊗ BD
        return S.One, [kron(*[algebra.mul(a, b) for a, b in zip(left.args, right.args)])]
    return None


def _as_row(v):
    return v if v.shape[0] == 1 else transposed(v)


def _as_column(v):
    return v if v.shape[1] == 1 else transposed(v)


@rewrite(HadamardProduct)
def _hadamard(node):
    """Sort the (commuting) factors and merge powers of one base (see _entrywise)."""
    coefficient, product = _split(node)
    if not isinstance(product, HadamardProduct):
        return node
    factors = _entrywise(product.args)
    if not factors:
        return algebra.mul(coefficient, algebra.ones_like(node))
    if node.shape == (1, 1):
        # 1×1 factors multiply as numbers: (ŷ − y) ŷ (1 − ŷ), as seed 001 writes δ⁽²⁾
        return algebra.mul(coefficient, *factors)
    return algebra.mul(coefficient, algebra.hadamard(*factors))


def _entrywise(factors):
    """Commuting factors of an entrywise product in textbook order, powers of one base
    merged when that cancels or the exponents are numbers (t∘² ⊙ t = t∘³), and the
    logistic identities applied; [] when everything cancels."""
    powers = {}
    order = []
    for factor in factors:
        base, exponent = (factor.args[0], factor.args[1]) if isinstance(factor, HadamardPower) else (factor, S.One)
        if base not in powers:
            powers[base] = []
            order.append(base)
        powers[base].append(exponent)
    merged = []
    for base in order:
        exponents = powers[base]
        if len(exponents) > 1 and (any(e.is_negative for e in exponents) or all(e.is_Number for e in exponents)):
            total = sum(exponents)
            if total != 0:
                merged.append(algebra.power(base, total))
        else:
            merged.extend(algebra.power(base, e) for e in exponents)
    merged = _logistic(merged)
    merged.sort(key=_hadamard_order)
    return merged


def _hadamard_order(factor):
    """Textbook order of commuting factors: the incoming gradient (a product) first,
    then functions and symbols, then sums such as (1 − A)."""
    if isinstance(factor, MatAdd):
        rank = 2 if any(algebra.is_ones(t) for t in factor.args) else 0
    else:
        rank = 0 if isinstance(factor, MatMul) else 1
    return (rank, algebra.sort_key(factor))


@rewrite(HadamardPower)
def _hadamard_power(node):
    base, exponent = node.args
    if exponent == 1:
        return base
    if exponent == 0 or isinstance(base, OneMatrix):
        return algebra.ones_like(base)
    if isinstance(base, HadamardPower):
        return _hadamard_power(algebra.build(HadamardPower, base.args[0], base.args[1] * exponent))
    exponent_of_exp = _one_plus_exp(base)
    if exponent_of_exp is not None and exponent.is_Integer and exponent < 0:
        # 1 ⊘ (𝟏 + exp(Z)) = σ(−Z), so 1 ⊘ (𝟏 + exp(−Z)) = σ(Z); powers alike
        return algebra.power(algebra.build(Sigmoid, algebra.neg(exponent_of_exp)), -exponent)
    return node


def _one_plus_exp(expr):
    """Z when ``expr`` is 𝟏 + exp(Z) (in either order), else None."""
    if not isinstance(expr, MatAdd) or len(expr.args) != 2:
        return None
    ones = [t for t in expr.args if algebra.is_ones(t)]
    exps = [t for t in expr.args if isinstance(t, Exp)]
    return exps[0].arg if len(ones) == 1 and len(exps) == 1 else None


def _logistic(factors):
    """The logistic identities on a list of Hadamard factors (each a power of a base):
    exp(Z) ⊙ σ(−Z) = exp(Z) ⊘ (𝟏 + exp(Z)) = σ(Z), the σ(−Z) coming from 1 ⊘ (𝟏 + exp(Z))
    (see _hadamard_power); then σ(Z) ⊙ σ(−Z) = σ(Z) ⊙ (𝟏 − σ(Z)), the textbook σ′."""
    powers = [_base_and_power(f) for f in factors]
    for i, (base, k) in enumerate(powers):
        for j, (other, m) in enumerate(powers):
            if isinstance(base, Exp) and isinstance(other, Sigmoid) and _is_negation(other.arg, base.arg):
                common = min(k, m)
                rest = [f for n, f in enumerate(factors) if n not in (i, j)]
                left = [algebra.power(b, e) for b, e in ((base, k - common), (other, m - common)) if e > 0]
                return _logistic(rest + left + [algebra.power(algebra.build(Sigmoid, base.arg), common)])
            if (isinstance(base, Sigmoid) and isinstance(other, Sigmoid) and i != j
                    and not _split(base.arg)[0].could_extract_minus_sign() and _is_negation(other.arg, base.arg)):
                factors = list(factors)
                factors[j] = algebra.power(algebra.one_minus(base), m)
                return factors
    return factors


def _base_and_power(factor):
    """(B, k) for a Hadamard factor B∘ᵏ with a positive integer k, (factor, 0) otherwise."""
    if isinstance(factor, HadamardPower):
        base, k = factor.args
        return (base, k) if k.is_Integer and k > 0 else (factor, S.Zero)
    return factor, S.One


def _is_negation(a, b) -> bool:
    """Whether a = −b, seen locally: one is the other times −1, or a + b collects to zero."""
    if a.shape != b.shape:
        return False
    return algebra.neg(a) == b or algebra.neg(b) == a or algebra.is_zero(algebra.add(a, b))


@rewrite(SumAll)
def _sum_all(node):
    arg = node.arg
    if isinstance(arg, OneMatrix):
        return arg.shape[0] * arg.shape[1]
    if isinstance(arg, Identity):
        return arg.shape[0]
    if isinstance(arg, ZeroMatrix):
        return S.Zero
    if isinstance(arg, Transpose):
        return _entries_sum(arg.arg)   # sum(Mᵀ) = sum(M)
    if isinstance(arg, MatMul):
        coefficient, matrices = arg.as_coeff_matrices()
        if coefficient != 1:
            return coefficient * _entries_sum(algebra.mul(*matrices))
    if isinstance(arg, MatAdd):
        # sum(A + B) = sum(A) + sum(B) when that is no longer or terms cancel (sum(I + A) =
        # n + sum(A)); 2 sum(X w + b 𝟏 − y) stays one sum, as a textbook writes it
        distributed = sympy.Add(*[_entries_sum(t) for t in arg.args])
        shorter = size(distributed) <= size(node) or len(sympy.Add.make_args(distributed)) < len(arg.args)
        return distributed if shorter else node
    if isinstance(arg, HadamardProduct) and any(isinstance(f, Identity) for f in arg.args):
        # sum(I ⊙ M) = tr(M): the identity keeps the diagonal (the adjoint ⟨I, A⟩ of tr(A) in tr(tr(A) A))
        rest = [f for f in arg.args if not isinstance(f, Identity)]
        return _trace(algebra.build(sympy.Trace, algebra.hadamard(*rest))) if rest else arg.shape[0]
    return node


def _entries_sum(matrix):
    """sum(matrix), rewritten (a 1×1 of ones is 1 already)."""
    total = algebra.sum_entries(matrix)
    return _sum_all(total) if isinstance(total, SumAll) else total


@rewrite(KroneckerProduct)
def _kronecker(node):
    """I ⊗ I = I, scalar factors out in front, 1×1 identities dropped (see kron)."""
    return kron(*node.args)


@rewrite(Vec)
def _vec(node):
    """vec of a column is itself, of a row its transpose; vec(c X) = c vec(X)."""
    return vec(node.arg)


@rewrite(CommutationMatrix)
def _commutation(node):
    """K₍m,1₎ = K₍1,n₎ = I."""
    return commutation(*node.args)


@rewrite(DiagMatrix)
def _diag_matrix(node):
    """diag(v) of a 1×1 v is v; diag(1) = I."""
    v = node.args[0]
    if v.shape == (1, 1):
        return v
    if isinstance(v, OneMatrix):
        return algebra.build(Identity, node.shape[0])
    return node


@rewrite(DiagonalOf)
def _diagonal_of(node):
    """diagonal(M) of a 1×1 M is M; diagonal(Mᵀ) = diagonal(M); diagonal(I) = 1;
    diagonal(diag(v)) = v as a column."""
    M = node.arg
    if M.shape == (1, 1):
        return M
    if isinstance(M, Transpose):
        return algebra.build(DiagonalOf, M.arg)
    if isinstance(M, Identity):
        return algebra.build(OneMatrix, M.shape[0], 1)
    if isinstance(M, DiagMatrix):
        return _as_column(M.args[0])
    return node


@rewrite(sympy.Trace)
def _trace(node):
    arg = node.arg
    if arg.shape == (1, 1):
        # tr(b) = sum(b) = b for a 1×1 b: one scalar form of a 1×1 (printed as the entry)
        return _entries_sum(arg)
    if isinstance(arg, Identity):
        return arg.shape[0]
    if isinstance(arg, MatMul):
        coefficient, matrices = arg.as_coeff_matrices()
        if coefficient != 1:
            return coefficient * algebra.build(sympy.Trace, algebra.mul(*matrices))
    return node


# ------------------------------------------------------------------ sums

def _split(term):
    """(scalar coefficient, matrix part) of a term."""
    if isinstance(term, MatMul):
        coefficient, matrices = term.as_coeff_matrices()
        return coefficient, algebra.mul(*matrices)
    return S.One, term


def _collect(terms):
    """Like terms added: [(coefficient, matrix)] with distinct matrices, zeros dropped."""
    coefficients = {}
    order = []
    for term in terms:
        coefficient, matrix = _split(term)
        if matrix is None or algebra.is_zero(matrix):
            continue
        if matrix not in coefficients:
            coefficients[matrix] = S.Zero
            order.append(matrix)
        coefficients[matrix] += coefficient
    return [(_expand_scalar(coefficients[m]) if coefficients[m].is_Add else coefficients[m], m)
            for m in order if coefficients[m] != 0]


def _expand_scalar(c):
    """Products distributed over sums, nothing else: SymPy's full ``expand`` would also
    split exp(a + b) into exp(a) exp(b), and repeated passes then build exp(2ᵏ a) chains."""
    return sympy.expand_mul(c)


@memoised
def _expand(expr):
    """The terms of ``expr`` with products distributed over sums; None if there are too many."""
    if isinstance(expr, MatAdd):
        parts = [_expand(t) for t in expr.args]
        if any(p is None for p in parts):
            return None
        terms = [t for p in parts for t in p]
    elif isinstance(expr, (MatMul, HadamardProduct)):
        if isinstance(expr, MatMul):
            coefficient, factors = expr.as_coeff_matrices()
            combine = algebra.mul
        else:
            coefficient, factors = S.One, expr.args
            combine = algebra.hadamard
        expanded = [_expand(f) for f in factors]
        if any(e is None for e in expanded):
            return None
        count = reduce(lambda a, b: a * len(b), expanded, 1)
        if count > MAX_EXPANDED_TERMS:
            return None
        terms = [algebra.mul(coefficient, combine(*choice)) for choice in itertools.product(*expanded)]
        terms = [t for t in terms if t is not None]
    else:
        terms = [expr]
    if len(terms) > MAX_EXPANDED_TERMS:
        return None
    return [simplify_term(t) for t in terms]


@memoised
def simplify_term(term):
    """Local rewrites of one product (no factoring), to make like terms look alike."""
    for _ in range(MAX_PASSES):
        new = _rewrite_local(term)
        if new == term:
            return new
        term = new
    return term


@memoised
def _rewrite_local(expr):
    if not isinstance(expr, Basic) or not expr.args or isinstance(expr, (SympyMatrixSymbol, OneMatrix, Identity, ZeroMatrix)):
        return expr
    if isinstance(expr, MatAdd):
        return expr
    node = _rebuild(expr, [_rewrite_local(a) for a in expr.args]) if not isinstance(expr, (Softmax, LogSumExp)) else expr
    for klass in type(node).__mro__:
        if klass in REWRITES and klass is not MatAdd:
            return _zero(REWRITES[klass](node), node)
    return node


@rewrite(MatAdd)
def _matadd(node):
    terms = _collect(_flatten_sum(node))
    if not terms:
        return algebra.zero_like(node)
    best = _factor(terms)
    expanded = _expand(node)
    if expanded is not None:
        expanded_terms = _collect(expanded)
        if len(expanded_terms) < len(expanded):  # something cancelled
            candidate = _factor(expanded_terms) if expanded_terms else algebra.zero_like(node)
            if size(candidate) < size(best):
                best = candidate
    return best


def _flatten_sum(node):
    terms = []
    for term in node.args:
        if isinstance(term, MatAdd):
            terms.extend(_flatten_sum(term))
        else:
            terms.append(term)
    return terms


def _factor(terms):
    """A short sum of [(coefficient, matrix)] terms: the common scalar, then common factors."""
    if len(terms) == 1:
        coefficient, matrix = terms[0]
        return algebra.mul(coefficient, matrix)
    common, terms = _common_scalar(terms)
    candidates = [_sum_of(terms)]
    for side in ("left", "right"):
        grouped = _group_by_factor(terms, side)
        if grouped is not None:
            candidates.append(grouped)
    grouped = _group_by_hadamard_factor(terms)
    if grouped is not None:
        candidates.append(grouped)
    best = min(candidates, key=size)
    return algebra.mul(common, best)


def _sum_of(terms):
    ordered = [algebra.mul(c, m) for c, m in sorted(terms, key=_term_order)]
    if len(ordered) == 1:
        return ordered[0]
    if all(algebra.is_matrix(t) for t in ordered):
        return algebra.build(MatAdd, *ordered)
    return algebra.add(*ordered)


def _term_order(term):
    return algebra.term_order(algebra.mul(*term))


def _common_scalar(terms):
    """Pull the common scalar factor out of the coefficients: (common, new terms)."""
    common, shares = _common_of_coefficients(tuple(c for c, _ in terms))
    return common, [(share, m) for share, (_, m) in zip(shares, terms)]


_COMMON_OF_COEFFICIENTS: dict = algebra.register_cache({})


def _common_of_coefficients(coefficients):
    """(common factor, each coefficient's share) — remembered per tuple of coefficients,
    which repeat from layer to layer (1/d, 1, 1, …), while SymPy's ``factor_terms``
    costs time in proportion to the number of terms at every call."""
    try:
        return _COMMON_OF_COEFFICIENTS[coefficients]
    except KeyError:
        pass
    if len(_COMMON_OF_COEFFICIENTS) > 100_000:
        _COMMON_OF_COEFFICIENTS.clear()
    common, terms = _factor_coefficients([(c, None) for c in coefficients])
    result = _COMMON_OF_COEFFICIENTS[coefficients] = (common, tuple(c for c, _ in terms))
    return result


def _factor_coefficients(terms):
    dummies = [sympy.Dummy(f"t{i}") for i in range(len(terms))]
    masked, unmask = _mask_matrix_scalars([c for c, _ in terms])
    total = sympy.factor_terms(sympy.Add(*[c * d for c, d in zip(masked, dummies)]))
    common, rest = total.as_independent(*dummies, as_Add=False)
    common = common.xreplace(unmask)
    if common == 1 or common == 0:
        negatives = sum(1 for c, _ in terms if c.could_extract_minus_sign())
        if negatives == len(terms):
            return S.NegativeOne, [(-c, m) for c, m in terms]
        return S.One, terms
    # Each term's share is read off the factored sum rather than computed as c / common:
    # SymPy does not cancel exp(u) / exp(u), and repeated passes would then pile up
    # exp(±2ᵏ u) factors that overflow.
    rest = sympy.expand_mul(rest)
    shares = [rest.coeff(d) for d in dummies]
    if sympy.Add(*[s * d for s, d in zip(shares, dummies)]) != rest or any(s == 0 for s in shares):
        return S.One, terms
    shares = [s.xreplace(unmask) for s in shares]
    return common, [(_expand_scalar(s) if s.is_Add else s, m) for s, (_, m) in zip(shares, terms)]


def _mask_matrix_scalars(coefficients):
    """Coefficients with every scalar-of-a-matrix (‖A‖, sum(A), tr A, det A) replaced by a
    dummy symbol, so SymPy's scalar algebra never descends into matrix arguments."""
    masks = {}

    def mask(expr):
        if isinstance(expr, MatrixExpr):
            return expr
        if any(isinstance(a, MatrixExpr) for a in expr.args):
            if expr not in masks:
                masks[expr] = sympy.Dummy("m")
            return masks[expr]
        if not expr.args:
            return expr
        return expr.func(*[mask(a) for a in expr.args])

    masked = [mask(c) for c in coefficients]
    return masked, {dummy: expr for expr, dummy in masks.items()}


def _factors(matrix):
    if isinstance(matrix, MatMul):
        coefficient, matrices = matrix.as_coeff_matrices()
        return coefficient, list(matrices)
    return S.One, [matrix]


def _group_by_factor(terms, side):
    """Group terms sharing a leftmost (rightmost) matrix factor: xA + xB → x(A + B)."""
    index = 0 if side == "left" else -1
    groups = {}
    order = []
    for coefficient, matrix in terms:
        inner_coefficient, factors = _factors(matrix)
        if len(factors) < 2:
            key = None
        else:
            key = factors[index]
        groups.setdefault(key, []).append((coefficient * inner_coefficient, factors))
        if key not in order:
            order.append(key)
    if not any(k is not None and len(groups[k]) > 1 for k in order):
        return None
    parts = []
    for key in order:
        members = groups[key]
        if key is None or len(members) == 1:
            parts.extend(algebra.mul(c, *f) for c, f in members)
            continue
        rests = [(c, algebra.mul(*(f[1:] if side == "left" else f[:-1]))) for c, f in members]
        inner = simplify(_factor(_collect([algebra.mul(c, r) for c, r in rests])))
        if algebra.is_zero(inner):
            continue
        parts.append(algebra.mul(key, inner) if side == "left" else algebra.mul(inner, key))
    return _zero(algebra.add(*parts), terms[0][1])


def _pull_common_hadamard(terms, common):
    """Σᵢ cᵢ (Aᵢ ⊙ F₁ ⊙ … ⊙ Fₘ) → (Σᵢ cᵢ Aᵢ) ⊙ F₁ ⊙ … ⊙ Fₘ for factors Fⱼ in every term."""
    inside = []
    for coefficient, matrix in terms:
        rest = list(matrix.args)
        for factor in common:
            rest.remove(factor)
        inside.append(algebra.mul(coefficient, algebra.hadamard(*rest) if rest else algebra.ones_like(matrix)))
    inner = simplify(algebra.add(*inside))
    if inner is None or algebra.is_zero(inner):
        return _zero(None, terms[0][1])
    return algebra.hadamard(inner, *common)


def _group_by_hadamard_factor(terms):
    """A ⊙ C + B ⊙ C → (A + B) ⊙ C, for the factor most terms share."""
    counts = {}
    for coefficient, matrix in terms:
        if isinstance(matrix, HadamardProduct):
            for factor in set(matrix.args):
                counts[factor] = counts.get(factor, 0) + 1
    shared = [f for f, n in counts.items() if n > 1]
    if not shared:
        return None
    everywhere = [f for f in shared if counts[f] == len(terms)]
    if len(everywhere) > 1:
        # factors every term has come out together, in one pass over the terms, rather
        # than one per level of recursion (k shared factors would cost k passes)
        return _pull_common_hadamard(terms, everywhere)
    factor = max(shared, key=lambda f: (counts[f], size(f), algebra.sort_key(f)))
    inside, outside = [], []
    for coefficient, matrix in terms:
        if isinstance(matrix, HadamardProduct) and factor in matrix.args:
            rest = list(matrix.args)
            rest.remove(factor)
            inside.append(algebra.mul(coefficient, algebra.hadamard(*rest)))
        else:
            outside.append(algebra.mul(coefficient, matrix))
    inner = simplify(algebra.add(*inside))
    if inner is None or algebra.is_zero(inner):
        return _zero(algebra.add(*outside), terms[0][1])
    return _zero(algebra.add(algebra.hadamard(inner, factor), *outside), terms[0][1])
