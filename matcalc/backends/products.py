"""Emitters of matrix products, inverses, powers, traces, determinants and diagonals.

A product is a chain of factors: inverses become linear solves, diagonal matrices
become row or column scalings, products with a matrix of ones become sums, and the rest is
multiplied in the cheapest order (the textbook dynamic programme).  Neither a trace nor a
diagonal of a product forms the product: tr(PQ) = Σ P ⊙ Qᵀ and diag(PQ) = (P ⊙ Qᵀ) 1.
Mixed into :class:`~.codegen.Printer`, whose core provides ``value``, ``expanded``,
``full``, ``transpose``, ``matrix``, ``scalar``, ``sum_all`` and ``dim``.
"""
from __future__ import annotations

from dataclasses import replace

from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, OneMatrix, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.hadamard import HadamardPower

from ..core import algebra
from ..core.functions import Elementwise
from ..errors import CompileError
from .kronecker import chain_kind
from .values import ONES, ZEROS, Val, stored_like

# A symbolic dimension is priced as this many entries when choosing a multiplication order.
_TYPICAL_DIMENSION = 1000


class ProductEmitters:
    """Products and the matrix functions built on them (mixed into the printer)."""

    def emit_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        # identities drop out of a product, unless there is nothing else (λI)
        factors = [f for f in factors if not isinstance(f, Identity)] or list(factors)[:1]
        if any(isinstance(f, ZeroMatrix) for f in factors):
            return ZEROS
        coeff, factors = self.negations_reused(coeff, factors, expr.shape)
        if coeff == 1 and len(factors) == 1:
            return self.value(factors[0])
        if coeff == -1:
            inner = self.value(MatMul(*factors)) if len(factors) > 1 else self.value(factors[0])
            return self.negate(inner, expr.shape)
        if coeff == 1:
            return self.chain(factors, expr)
        c = self.scalar_value(coeff)
        # Scale the smallest operand: the result or one of the factors.
        sizes = [(_size(expr.shape), -1)] + [(_size(f.shape), i) for i, f in enumerate(factors)]
        _, where = min(sizes)
        if where == -1 or len(factors) == 1:
            prod = self.chain(factors, MatMul(*factors)) if len(factors) > 1 else self.value(factors[0])
            return self.matrix(f"{c.code} * {prod.code}", expr, **stored_like(prod))
        scaled = MatMul(coeff, factors[where])
        rest = factors[:where] + [scaled] + factors[where + 1:]
        return self.chain(rest, expr)

    def negations_reused(self, coeff, factors, shape):
        """(coeff, factors) with each sum whose negation is computed already replaced by
        that negation, the sign going to the coefficient: c (wXᵀ − y) X = (−c)(y − wXᵀ) X
        reads the residual the loss computed.  Without a coefficient to take the sign, only
        where negating the product costs less than computing the sum."""
        factors = list(factors)
        for i, f in enumerate(factors):
            if not isinstance(f, MatAdd) or self.known(f) is not None:
                continue
            negated = algebra.add(*(algebra.neg(term) for term in f.args))
            if self.known(negated) is None or (coeff == 1 and _size(shape) > _size(f.shape)):
                continue
            factors[i], coeff = negated, -coeff
        return coeff, factors

    def chain(self, factors, expr) -> Val:
        """A product of matrices: inverses become solves, diagonals become scalings, and
        the rest is multiplied in the cheapest order."""
        items = []
        for f in factors:
            inv, vector = _inverse_of(f), _diagonal_matrix_vector(f)
            if inv is not None:
                items.append(("inv", inv))
            elif vector is not None:
                items.append(("diag", vector))
            else:
                items.append((chain_kind(f) or "mat", f))
        return self.product(items, expr)

    def product(self, items, expr) -> Val:
        for i, (kind, m) in enumerate(items):
            if kind == "inv":
                left, right = items[:i], items[i + 1:]
                mv = self.value(m)
                mcode = self.full(mv, m.shape)
                if right:
                    r = self.product(right, None)
                    rcode = self.full(r, _items_shape(right))
                    solved = self.matrix(self.spell("solve", a=mcode, b=rcode), None if left else expr)
                    if not left:
                        return solved
                    return self.product(left + [("val", (solved, (m.shape[0], _items_shape(right)[1])))], expr)
                if left:   # L M⁻¹ = (M⁻ᵀ Lᵀ)ᵀ
                    lt = self.transpose(self.expanded(self.product(left, None), _items_shape(left)))
                    mt = self.transpose(self.expanded(mv, m.shape))
                    return self.transpose(self.matrix(self.spell("solve", a=mt.code, b=lt.code)))
                return self.matrix(self.spell("inv", a=mcode), expr if expr is not None else m)
        # commutation matrices become index permutations, Kronecker products are applied
        # without being formed (see .kronecker)
        items = self.fold_kroneckers(self.fold_permutations(items))
        # merge neighbouring diagonals, then fold each diagonal into its cheaper neighbour
        merged = []
        for kind, m in items:
            if kind == "diag" and merged and merged[-1][0] == "diag":
                merged[-1] = ("diag", HadamardProduct(merged[-1][1], m))
            else:
                merged.append((kind, m))
        items = merged
        while any(kind == "diag" for kind, _ in items):
            i = next(j for j, (kind, _) in enumerate(items) if kind == "diag")
            v = self.value(items[i][1])
            if len(items) == 1:
                vec = self.full(v, items[i][1].shape)
                return self.matrix(self.spell("diag", v=vec), expr)
            candidates = []   # (size, prefer the right neighbour on a tie, index)
            if i + 1 < len(items):
                candidates.append((_size(_item_shape(items[i + 1])), 0, i + 1))
            if i > 0:
                candidates.append((_size(_item_shape(items[i - 1])), 1, i - 1))
            _, _, j = min(candidates)
            nv = self._item_value(items[j])
            nshape = _item_shape(items[j])
            if j > i:   # diag(v) B: scale the rows of B by the column v (as a matrix: v 1ᵀ)
                column = replace(v, cols_same=True)
                scaled = self.matrix(f"{v.code} * {nv.code}", **stored_like(column, nv))
            else:       # A diag(v): scale the columns of A by the row vᵀ (as a matrix: 1 vᵀ)
                row = replace(self.transpose(v), rows_same=True)
                scaled = self.matrix(f"{nv.code} * {row.code}", **stored_like(row, nv))
            lo, hi = min(i, j), max(i, j)
            items = items[:lo] + [("val", (scaled, nshape))] + items[hi + 1:]
        vals = [self._item_value(it) for it in items]
        shapes = [_item_shape(it) for it in items]
        if len(vals) == 1:
            return vals[0]
        order = _chain_order(shapes)
        val, _ = self._multiply(order, vals, shapes, expr)
        return val

    def _item_value(self, item) -> Val:
        kind, m = item
        if kind == "val":
            return m[0]
        return self.value(m)

    def _multiply(self, order, vals, shapes, expr):
        """Emit the products of a parenthesisation tree; returns (value, shape)."""
        if isinstance(order, int):
            return vals[order], shapes[order]
        (a, sa), (b, sb) = (self._multiply(o, vals, shapes, None) for o in order)
        shape = (sa[0], sb[1])
        return self.matmul(a, b, sa[1], expr), shape

    def matmul(self, a: Val, b: Val, inner, expr) -> Val:
        """A B where either side may be stored collapsed: ones never get multiplied."""
        k = self.dim(inner)
        if a.one and b.one:
            if _sympify(inner) == 1:
                return ONES
            return self.matrix(f"{k} * 1.0", rows_same=True, cols_same=True, uniform=True)
        if _sympify(inner) == 1:
            # an outer product of a column and a row: broadcasting
            if a.one:
                return replace(b, rows_same=True)
            if b.one:
                return replace(a, cols_same=True)
            return self.matrix(f"{a.code} * {b.code}", expr, rows_same=a.rows_same, cols_same=b.cols_same,
                               uniform=a.uniform and b.uniform)
        # A collapsed operand stored as a column a (A = a 1ᵀ) or a row r (B = 1 r) meets the
        # other one's sums, and the two combine entrywise: a (1ᵀ B) or (A 1) r.
        if a.cols_same:      # A = a 1ᵀ  ⇒  A B = a (1ᵀ B): column sums of B
            s = self.column_sums(b, k)
            if a.one:
                return s
            return self.matrix(f"{a.code} * {s.code}", expr, **stored_like(a, s))
        if b.rows_same:      # B = 1 r  ⇒  A B = (A 1) r: row sums of A
            s = self.row_sums(a, k)
            if b.one:
                return s
            return self.matrix(f"{s.code} * {b.code}", expr, **stored_like(s, b))
        return self.matrix(f"{a.code} @ {b.code}", expr, rows_same=a.rows_same, cols_same=b.cols_same)

    def column_sums(self, b: Val, k: str) -> Val:
        """1ᵀ B over the k rows of B: a row."""
        if b.rows_same:
            return self.matrix(f"{k} * {b.code}", **stored_like(b))
        return self.matrix(self.spell("sum_along", x=b.code, axis=0), rows_same=True, cols_same=b.cols_same)

    def row_sums(self, a: Val, k: str) -> Val:
        """A 1 over the k columns of A: a column."""
        if a.cols_same:
            return self.matrix(f"{k} * {a.code}", **stored_like(a))
        return self.matrix(self.spell("sum_along", x=a.code, axis=1), rows_same=a.rows_same, cols_same=True)

    # -- matrix functions

    def emit_Inverse(self, expr):
        return self.product([("inv", expr.arg)], expr)

    def emit_MatPow(self, expr):
        base, p = expr.base, expr.exp
        if p == -1:
            return self.product([("inv", base)], expr)
        if p.is_Integer and p > 0:
            v = self.full(self.value(base), base.shape)
            return self.matrix(self.spell("matrix_power", a=v, p=int(p)), expr)
        if p.is_Integer and p < 0:
            return self.value(MatPow(Inverse(base), -p))
        if base.shape == (1, 1):
            # a 1×1 matrix to a real or symbolic power is its entry's power (NumPy's nan below 0)
            return self.value(algebra.build(HadamardPower, base, p))
        raise CompileError(f"cannot compile a MatPow node with exponent {p}: a matrix has integer powers "
                           f"only (a real or symbolic one for a 1×1 matrix)")

    # -- scalars of products

    def emit_Trace(self, expr):
        arg = expr.arg
        if arg.shape == (1, 1):
            return self.sum_all(self.value(arg), arg.shape, expr)
        if isinstance(arg, MatMul):
            coeff, factors = arg.as_coeff_matrices()
            if len(factors) >= 2 and not any(_inverse_of(f) is not None for f in factors):
                # tr(P Q) = Σ P ⊙ Qᵀ, splitting the chain where the elementwise product is cheapest
                best = min(range(1, len(factors)),
                           key=lambda i: _size((factors[0].shape[0], factors[i - 1].shape[1])))
                p = MatMul(*factors[:best]) if best > 1 else factors[0]
                q = MatMul(*factors[best:]) if len(factors) - best > 1 else factors[best]
                prod = self.value(HadamardProduct(p, algebra.transpose(q)))
                return self.sum_all(prod, p.shape, expr, self.scalar_value(coeff) if coeff != 1 else None)
        v = self.full(self.value(arg), arg.shape)
        return self.scalar(self.spell("trace", a=v), expr)

    def emit_Determinant(self, expr):
        v = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(self.spell("det", a=v), expr)

    # -- the diagonal of a matrix (a column)

    def emit_DiagonalOf(self, expr):
        arg = expr.arg
        if arg.shape[0] == arg.shape[1]:
            cheaper = self.diagonal(arg)
            if cheaper != expr:
                return self.value(cheaper)
        return self.diagonal_of_value(self.value(arg), arg.shape, expr)

    def diagonal_of_value(self, val: Val, shape, expr) -> Val:
        """The diagonal of a computed matrix, as a column (a copy, never a view)."""
        if shape[0] == shape[1]:
            if val.cols_same:        # M = c 1ᵀ: Mᵢᵢ = cᵢ
                return val
            if val.rows_same:        # M = 1 r: Mᵢᵢ = rᵢ
                return self.transpose(val)
        return self.matrix(self.spell("diagonal", a=self.full(val, shape)), expr)

    def diagonal(self, m):
        """An expression equal to diag(M) for a square M that forms no more of M than the
        diagonal needs; DiagonalOf(M) itself when M is computed already or has no such form."""
        if m in self.values:
            return DiagonalOf(m)
        n = m.shape[0]
        if isinstance(m, Transpose):                        # diag(Mᵀ) = diag(M)
            return self.diagonal(m.arg)
        if _diagonal_matrix_vector(m) is not None:          # diag(diag(v)) = v
            return _diagonal_matrix_vector(m)
        if isinstance(m, (Identity, OneMatrix)):
            return OneMatrix(n, 1)
        if isinstance(m, ZeroMatrix):
            return ZeroMatrix(n, 1)
        if isinstance(m, MatAdd):                           # diag(A + B) = diag A + diag B
            return MatAdd(*(self.diagonal(t) for t in m.args))
        if isinstance(m, HadamardProduct):                  # diag(A ⊙ B) = diag A ⊙ diag B
            return HadamardProduct(*(self.diagonal(a) for a in m.args))
        if isinstance(m, HadamardPower):
            return HadamardPower(self.diagonal(m.base), m.exp)
        if isinstance(m, Elementwise):                      # diag f(A) = f(diag A)
            return type(m)(self.diagonal(m.arg))
        if isinstance(m, MatMul):
            return self.diagonal_of_product(m)
        return DiagonalOf(m)

    def diagonal_of_product(self, m):
        """diag(c D₁ P Q D₂) = c d₁ ⊙ (P ⊙ Qᵀ) 1 ⊙ d₂, split where P ⊙ Qᵀ is smallest."""
        coeff, factors = m.as_coeff_matrices()
        factors = [f for f in factors if not isinstance(f, Identity)]
        vectors = []    # the diagonal matrices at either end, as columns
        while factors and _diagonal_matrix_vector(factors[0]) is not None:
            vectors.append(_diagonal_matrix_vector(factors.pop(0)))
        while factors and _diagonal_matrix_vector(factors[-1]) is not None:
            vectors.append(_diagonal_matrix_vector(factors.pop()))
        if not factors:
            core = OneMatrix(m.shape[0], 1) if not vectors else None
        elif len(factors) == 1:
            core = self.diagonal(factors[0])
        elif any(_inverse_of(f) is not None for f in factors):   # solved as a whole, then read
            core = DiagonalOf(MatMul(*factors))
            if core.arg == m:
                return core
        else:
            best = min(range(1, len(factors)), key=lambda i: _size((m.shape[0], factors[i - 1].shape[1])))
            p = MatMul(*factors[:best]) if best > 1 else factors[0]
            q = MatMul(*factors[best:]) if len(factors) - best > 1 else factors[best]
            core = HadamardProduct(p, q.T)
            if p.shape[1] != 1:
                core = MatMul(core, OneMatrix(p.shape[1], 1))   # row sums
        parts = vectors + ([core] if core is not None else [])
        diagonal = parts[0] if len(parts) == 1 else HadamardProduct(*parts)
        return diagonal if coeff == 1 else MatMul(coeff, diagonal)


def _size(shape) -> float:
    total = 1.0
    for d in shape:
        d = _sympify(d)
        total *= float(d) if d.is_number else float(d.subs({s: _TYPICAL_DIMENSION for s in d.free_symbols}))
    return total


def _item_shape(item):
    kind, m = item
    if kind == "val":
        return m[1]
    if kind == "diag":
        return (m.shape[0], m.shape[0])
    return m.shape


def _items_shape(items):
    return (_item_shape(items[0])[0], _item_shape(items[-1])[1])


def _chain_order(shapes):
    """The cheapest parenthesisation of a matrix chain (the textbook dynamic programme),
    pricing a symbolic dimension at _TYPICAL_DIMENSION."""
    n = len(shapes)
    dims = [_size((shapes[0][0],))] + [_size((s[1],)) for s in shapes]
    cost = {(i, i): (0.0, i) for i in range(n)}
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                c = cost[(i, k)][0] + cost[(k + 1, j)][0] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best[0]:
                    best = (c, (cost[(i, k)][1], cost[(k + 1, j)][1]))
            cost[(i, j)] = best
    return cost[(0, n - 1)][1]


def _diagonal_matrix_vector(f):
    """v as a column if f is diag(v) (or its transpose), else None."""
    if isinstance(f, Transpose):
        f = f.arg
    if isinstance(f, DiagMatrix):
        v = f.args[0]
        return v if v.shape[1] == 1 else v.T
    return None


def _inverse_of(f):
    """M if f is M⁻¹ (or (M⁻¹)ᵀ, giving Mᵀ), else None."""
    if isinstance(f, Inverse):
        return f.arg
    if isinstance(f, MatPow) and f.exp == -1:
        return f.base
    if isinstance(f, Transpose) and _inverse_of(f.arg) is not None:
        return _inverse_of(f.arg).T
    return None
