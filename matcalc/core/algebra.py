"""Small constructors that keep expressions tidy as rules build them.

Rules, the simplifier and the parser build new expressions through these helpers instead of
SymPy's operators, for two reasons:

* **Local work only.**  SymPy's ``A * B``, ``-A``, ``A.T`` and ``doit`` re-canonicalise the
  whole tree below the new node, so building an expression step by step costs (steps ×
  tree size), and more where subtrees are shared.  These constructors look at a node's
  direct arguments only and assume those are already tidy, so building a DAG costs time in
  proportion to its number of distinct nodes.  Nodes are built with SymPy's
  non-evaluating constructors and hash-consed (:func:`intern`): equal subexpressions are
  one object, so comparing and hashing them is cheap.
* **Scalars and 1×1 matrices are one thing.**  A scalar meets a 1×1 matrix in a sum, a
  1×1 matrix scales a larger one in a product: SymPy refuses both ("Mix of Matrix and
  Scalar symbols"), these constructors make them work.

Zero is pruned at once (JAX's symbolic zero, ``None``), and ones and identities never pile
up.  No calculus here.
"""
from __future__ import annotations

import sympy
from sympy import Basic, Lambda, S
from sympy.core.cache import clear_cache
from sympy.core.sorting import default_sort_key
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, MatrixExpr, OneMatrix, Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol

from .shapes import check_product

from . import budget as _budget
from . import shapes as _shapes
from .memo import remembering

# ---------------------------------------------------------------- hash-consing

_INTERNED: dict = {}
_INTERN_LIMIT = 500_000


def intern(node):
    """The canonical object equal to ``node`` (``node`` itself the first time).

    Equal subexpressions built twice become one object, so dictionaries keyed by nodes
    compare them by identity.  Correctness never depends on it, only speed; the table is
    dropped when it grows past a limit."""
    if len(_INTERNED) > _INTERN_LIMIT:
        # every table at once: a memo keyed by an old node would otherwise compare a new,
        # equal node with it structurally, a walk over the whole tree
        clear_caches()
    try:
        return _INTERNED.setdefault(node, node)
    except TypeError:   # an unhashable argument: nothing to share
        return node


def build(cls, *args):
    """``cls(*args)`` built without SymPy's evaluation and interned (counts one node
    against the work budget)."""
    _budget.charge(1)
    check = _CHECKS.get(cls)
    if check is not None:
        check(*args)
    if cls is DiagMatrix:   # its constructor keeps state of its own
        return intern(DiagMatrix(*args))
    return intern(Basic.__new__(cls, *[a if isinstance(a, Basic) else _sympify(a) for a in args]))


_CHECKS = {MatMul: _shapes.check_product, MatAdd: _shapes.check_same_shape,
           HadamardProduct: lambda *a: _shapes.check_same_shape(*a, operation="multiply elementwise")}


def inverse(expr):
    """X⁻¹ (SymPy's ``Inverse`` carries its exponent −1 as a second argument); (Xᵏ)⁻¹ = X⁻ᵏ."""
    if isinstance(expr, Inverse):
        return expr.arg
    if isinstance(expr, Identity):
        return expr
    if isinstance(expr, MatPow):
        if not expr.exp.is_Integer:
            return build(MatPow, expr.base, -expr.exp)   # (Aᵖ)⁻¹ = A⁻ᵖ
        base, k = base_and_exponent(expr)
        return matrix_power(base, -k)
    return build(Inverse, expr, S.NegativeOne)


def base_and_exponent(factor):
    """(B, k) with ``factor`` = Bᵏ for an integer k: A⁻¹ → (A, −1), A³ → (A, 3), A → (A, 1)."""
    if isinstance(factor, Inverse):
        return factor.arg, -1
    if isinstance(factor, MatPow) and factor.exp.is_Integer:
        base, k = base_and_exponent(factor.base)
        return base, k * int(factor.exp)
    return factor, 1


def matrix_power(base, k):
    """Bᵏ for a square B and an integer k (I for k = 0, B⁻¹ for k = −1)."""
    if k == 0:
        return build(Identity, base.shape[0])
    if k == 1:
        return base
    if k == -1:
        return inverse(base)
    return build(MatPow, base, k)


_TABLES: list = [_shapes._SHAPES]


def clear_caches():
    """Forget every interned node and memoised result (benchmarks start each size afresh;
    correctness never depends on the caches)."""
    _INTERNED.clear()
    for table in _TABLES:
        table.clear()
    # SymPy's own cache (of Add and Mul, among others) holds old nodes too
    clear_cache()


def register_cache(table: dict) -> dict:
    """Have :func:`clear_caches` clear ``table`` too."""
    _TABLES.append(table)
    return table


def memoised(function):
    """Remember ``function(node)`` per node (bounded; correctness never depends on it);
    :func:`clear_caches` clears the table."""
    return remembering(function, register_cache({}), _INTERN_LIMIT)


# ---------------------------------------------------------------- predicates

def is_matrix(expr) -> bool:
    return isinstance(expr, MatrixExpr)


def is_zero(expr) -> bool:
    if expr is None:
        return True
    if is_matrix(expr):
        return isinstance(expr, ZeroMatrix) or (isinstance(expr, MatMul) and expr.args and expr.args[0] == 0)
    return expr == 0


def is_one(expr) -> bool:
    """The scalar 1, or a 1×1 matrix of ones or 1×1 identity (SymPy turns one into the other)."""
    if is_matrix(expr):
        if isinstance(expr, MatMul) and len(expr.args) == 1:
            expr = expr.args[0]
        return isinstance(expr, (OneMatrix, Identity)) and expr.shape == (1, 1)
    return expr == 1


def is_ones(expr) -> bool:
    """A matrix of ones (any shape), including SymPy's 1×1 identity."""
    return isinstance(expr, OneMatrix) or is_one(expr)


def shape_of(expr):
    return expr.shape if is_matrix(expr) else (1, 1)


# ---------------------------------------------------------------- products

def mul(*factors):
    """The product of scalars and conforming matrices, in order; None or zero → zero.

    A 1×1 matrix between factors it does not conform to acts as the scalar it holds
    (NumPy's broadcasting; written as its trace)."""
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
    matrices = _conforming(matrices, scalars)
    check_product(*matrices)   # before any merging: A A of a non-square A is an error, never A²
    if len(matrices) > 1 and any(isinstance(m, OneMatrix) for m in matrices):
        matrices = _merge_ones(matrices, scalars)
    if len(matrices) > 1:
        matrices = _merge_powers(matrices)
    coefficient = scalar_mul(*scalars)
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
    if coefficient == 1:
        return build(MatMul, *matrices)
    return build(MatMul, coefficient, *matrices)


def _conforming(matrices, scalars):
    """Move 1×1 matrices that do not conform to their neighbours into the scalars."""
    if len(matrices) < 2 or not any(m.shape == (1, 1) for m in matrices):
        return matrices
    kept = []
    for i, m in enumerate(matrices):
        if m.shape == (1, 1):
            before = kept[-1].shape[1] if kept else None
            after = next((n.shape[0] for n in matrices[i + 1:] if n.shape != (1, 1)), None)
            if (before is not None and before != 1) or (after is not None and after != 1):
                if not is_one(m):
                    scalars.append(as_scalar(m))
                continue
        kept.append(m)
    return kept or matrices[:1]


def _merge_ones(matrices, scalars):
    """1_{a×b} 1_{b×c} = b 1_{a×c}: adjacent matrices of ones become one."""
    merged = [matrices[0]]
    for m in matrices[1:]:
        last = merged[-1]
        if isinstance(m, OneMatrix) and isinstance(last, OneMatrix):
            if last.shape[1] != 1:
                scalars.append(last.shape[1])
            merged[-1] = build(OneMatrix, last.shape[0], m.shape[1])
        else:
            merged.append(m)
    return merged


def _merge_powers(matrices):
    """Adjacent powers of one square base multiply: A A = A², A² A⁻¹ = A, A⁻¹ A = I."""
    powers = [base_and_exponent(m) for m in matrices]
    if not any(_same(a[0], b[0]) for a, b in zip(powers, powers[1:])):
        return matrices
    merged = []
    for base, k in powers:
        if (merged and _same(merged[-1][0], base) and base.shape[0] != 1 and base.shape[0] == base.shape[1]
                and not isinstance(base, (OneMatrix, Identity, ZeroMatrix, DiagMatrix))):
            merged[-1] = (base, merged[-1][1] + k)
        else:
            merged.append((base, k))
    return [matrix_power(base, k) for base, k in merged]


def _same(a, b) -> bool:
    return a is b or (hash(a) == hash(b) and a == b)


def scalar_mul(*factors):
    """The product of scalar expressions (SymPy's local flattening of a Mul)."""
    factors = [f for f in factors if f != 1]
    if not factors:
        return S.One
    if len(factors) == 1:
        return factors[0]
    return sympy.Mul(*factors)


def as_scalar(expr):
    """A 1×1 matrix as the scalar it holds (the sum of its one entry, which printers show
    as the entry: a 1×1 bias b broadcast over a column is b 𝟏); a scalar as itself."""
    if not is_matrix(expr):
        return expr
    if isinstance(expr, MatMul):
        coeff, mats = expr.as_coeff_matrices()
        if coeff != 1:
            return scalar_mul(coeff, as_scalar(mul(*mats)))
    return sum_entries(expr)


def neg(expr):
    return mul(-1, expr)


# ---------------------------------------------------------------- sums

def add(*terms):
    """The sum of terms of one shape; None (zero) terms are dropped; no terms → None.

    Nested sums are flattened, like terms collected (2A − A → A) and the terms sorted,
    looking only at the terms themselves."""
    terms = [t for t in terms if not is_zero(t)]
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    matrices = sum(1 for t in terms if is_matrix(t))
    if not matrices:
        return sympy.Add(*terms)
    if matrices != len(terms):
        # a scalar and 1×1 matrices: keep them matrices
        terms = [t if is_matrix(t) else scalar_times_one(t) for t in terms]
    return _matadd(terms)


def scalar_times_one(s):
    """The scalar s as a 1×1 matrix."""
    return mul(s, build(OneMatrix, 1, 1))


def _matadd(terms):
    flat = []
    for t in terms:
        if isinstance(t, MatAdd):
            flat.extend(t.args)
        elif not is_zero(t):
            flat.append(t)
    coefficients, order = {}, []
    for t in flat:
        coefficient, matrix = coeff_matrix(t)
        if matrix not in coefficients:
            coefficients[matrix] = []
            order.append(matrix)
        coefficients[matrix].append(coefficient)
    collected = []
    for matrix in order:
        parts = coefficients[matrix]
        coefficient = parts[0] if len(parts) == 1 else sympy.Add(*parts)
        if coefficient != 0:
            if coefficient != 1 and isinstance(matrix, HadamardProduct):
                # a scaled Hadamard product lists its factors in SymPy's canonical order
                matrix = build(HadamardProduct, *sorted(matrix.args, key=sort_key))
            collected.append(mul(coefficient, matrix))
    if not collected:
        return build(ZeroMatrix, *flat[0].shape)
    if len(collected) == 1:
        return collected[0]
    collected.sort(key=term_order)
    return build(MatAdd, *collected)


def coeff_matrix(term):
    """(scalar coefficient, matrix part) of a term: 3 A B → (3, A B)."""
    if isinstance(term, MatMul):
        coefficient, matrices = term.as_coeff_matrices()
        if len(matrices) == 1:
            return coefficient, matrices[0]
        if coefficient == 1:
            return S.One, term
        return coefficient, build(MatMul, *matrices)
    return S.One, term


def term_order(term):
    """Sort key of the terms of a sum: positive terms first, then a fixed order."""
    if isinstance(term, MatMul):
        coefficient, matrices = term.as_coeff_matrices()
        return (bool(coefficient.could_extract_minus_sign()), sort_key(build(MatMul, *matrices)))
    return (False, sort_key(term))


# ---------------------------------------------------------------- transposes

def transpose(expr):
    """Xᵀ, pushed onto symbols one level at a time: (AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ,
    Sᵀ = S for a symmetric S.  This is the raw form rules build (a 1×1 keeps its ᵀ, and
    the factors of a transposed Hadamard product take SymPy's order, as derivation steps
    have always shown them); the simplifier's ``transposed`` gives the canonical form."""
    if expr is None:
        return None
    if not is_matrix(expr):
        return expr
    return _transpose(expr)


@memoised
def _transpose(expr):
    if isinstance(expr, SympyMatrixSymbol):
        if {"symmetric", "spd"} & getattr(expr, "assumptions", frozenset()):
            return expr
        return build(Transpose, expr)
    if isinstance(expr, Transpose):
        return expr.arg
    if isinstance(expr, MatMul):
        coefficient, matrices = expr.as_coeff_matrices()
        return mul(coefficient, *[transpose(m) for m in reversed_product(matrices)])
    if isinstance(expr, MatAdd):
        return add(*[transpose(t) for t in expr.args])
    if isinstance(expr, HadamardProduct):
        # SymPy's canonical order of the factors, as its own transpose gives
        return hadamard(*sorted((transpose(f) for f in expr.args), key=sort_key))
    if isinstance(expr, HadamardPower):
        return build(HadamardPower, transpose(expr.args[0]), expr.args[1])
    if isinstance(expr, OneMatrix) and expr.shape == (1, 1):
        return build(Identity, S.One)
    if isinstance(expr, (OneMatrix, ZeroMatrix)):
        return build(type(expr), expr.shape[1], expr.shape[0])
    if isinstance(expr, (Identity, DiagMatrix)):
        return expr
    if isinstance(expr, Inverse):
        return inverse(transpose(expr.arg))
    if isinstance(expr, MatPow):
        if not expr.exp.is_Integer:   # a real power of a 1×1 keeps its ᵀ, as a 1×1 does
            return build(Transpose, expr) if expr.shape == (1, 1) else build(MatPow, transpose(expr.base), expr.exp)
        base, k = base_and_exponent(expr)
        return matrix_power(transpose(base), k)
    # f(Z)ᵀ stays as it is: textbooks write A₁ᵀ, not σ(Z₁ᵀ).
    return build(Transpose, expr)


def reversed_product(matrices):
    """The factors of a product in the order its transpose takes them, (AB)ᵀ = BᵀAᵀ, except
    that a run of 1×1 factors, which commute, keeps its order."""
    result, run = [], []
    for m in list(reversed(matrices)) + [None]:
        if m is not None and m.shape == (1, 1):
            run.append(m)
            continue
        result.extend(reversed(run))
        run = []
        if m is not None:
            result.append(m)
    return result


# ---------------------------------------------------------------- entrywise

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
        return scalar_mul(*scalars)
    if len(kept) > 1 and len(set(kept)) < len(kept):
        # A ⊙ A = A∘²
        counts = {}
        for m in kept:
            counts[m] = counts.get(m, 0) + 1
        kept = [m if n == 1 else power(m, n) for m, n in counts.items()]
    if shape == (1, 1) and len(kept) > 1:
        return mul(*scalars, *kept)   # 1×1 factors multiply as numbers: (ŷ − y) ŷ (1 − ŷ)
    product = kept[0] if len(kept) == 1 else build(HadamardProduct, *kept)
    assert product.shape == shape
    return mul(*scalars, product)


def power(expr, exponent):
    """X∘ᵖ entrywise for a matrix, xᵖ for a scalar."""
    exponent = _sympify(exponent)
    if exponent == 1:
        return expr
    if is_matrix(expr):
        if exponent == 0 or isinstance(expr, OneMatrix):
            return ones_like(expr)
        return build(HadamardPower, expr, exponent)
    return expr ** exponent


def reciprocal(expr):
    """1 ⊘ X entrywise for a matrix, 1/x for a scalar."""
    return power(expr, -1) if is_matrix(expr) else 1 / expr


def ones_like(expr):
    return build(OneMatrix, *expr.shape)


def zero_like(expr):
    return build(ZeroMatrix, *expr.shape) if is_matrix(expr) else S.Zero


def one_minus(expr):
    """1 − X with 1 the matrix of ones of X's shape."""
    return add(ones_like(expr), neg(expr))


def sum_entries(expr):
    """The scalar sum of the entries of a matrix expression (itself for a scalar)."""
    from .functions import SumAll
    if not is_matrix(expr):
        return expr
    if expr.shape == (1, 1):
        coefficient, matrix = coeff_matrix(expr)
        if is_one(matrix):
            return coefficient   # sum(c 1) = c for a 1×1 1: no sum(1) in a derivation
    return build(SumAll, expr)


def transpose_free(expr) -> bool:
    return not isinstance(expr, Transpose)


# ---------------------------------------------------------------- memoised walks

_ONE_KEY = S.One.sort_key()


@memoised
def sort_key(expr):
    """SymPy's ``default_sort_key``, remembered per node and built from the remembered keys
    of the arguments (SymPy recomputes it over the whole tree at every call).

    For a node that is not a sum, product, power or atom, SymPy's ``Expr.sort_key`` is
    (class key, (number of args, args' keys), key of 1, 1); those are composed here, so
    equal subtrees share one key object and compare at once.  Everything else is SymPy's."""
    if (isinstance(expr, MatrixExpr) and expr.args and not isinstance(expr, (MatAdd, MatMul))
            and not expr.is_Atom and not expr.is_Pow):
        return (expr.class_key(), (len(expr.args), tuple(sort_key(a) for a in expr.args)), _ONE_KEY, S.One)
    return default_sort_key(expr)


def depends(expr, variables, memo) -> bool:
    """Whether ``expr`` contains one of ``variables`` (a set), remembering answers in
    ``memo``; linear in the DAG, where SymPy's ``has`` walks the tree."""
    if expr in variables:
        return True
    if not isinstance(expr, Basic) or not expr.args or isinstance(expr, SympyMatrixSymbol):
        return False
    try:
        return memo[expr]
    except KeyError:
        pass
    result = memo[expr] = any(depends(a, variables, memo) for a in expr.args)
    return result


def rebuild(expr, args):
    """``expr`` with new arguments, without SymPy's evaluation (scalar arithmetic, whose
    evaluation is local, excepted)."""
    if isinstance(expr, (sympy.Add, sympy.Mul, sympy.Pow)) and not is_matrix(expr):
        return expr.func(*args)
    if isinstance(expr, sympy.Function):
        return intern(expr.func(*args, evaluate=False))
    if isinstance(expr, Inverse):
        return inverse(args[0])
    return build(type(expr), *args)


def map_nodes(expr, rule=None, done=None):
    """``expr`` rebuilt bottom-up without evaluation, each rebuilt node passed through
    ``rule`` (which returns its replacement); ``done`` maps nodes to their final values
    (not descended into).  Each distinct node is visited once (SymPy's ``xreplace`` walks
    the tree); symbols and the bodies of ``Lambda``s are leaves."""
    memo = {} if done is None else dict(done)

    def visit(node):
        try:
            return memo[node]
        except KeyError:
            pass
        if not isinstance(node, Basic) or not node.args or isinstance(node, (SympyMatrixSymbol, Lambda)):
            result = node
        else:
            args = [visit(a) for a in node.args]
            result = node if all(a is b for a, b in zip(args, node.args)) else rebuild(node, args)
        if rule is not None:
            result = rule(result)
        memo[node] = result
        return result

    return visit(expr)


def substitute(expr, mapping):
    """``expr`` with each key of ``mapping`` replaced by its value (see :func:`map_nodes`)."""
    return map_nodes(expr, done=mapping)
