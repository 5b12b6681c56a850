"""Emitters of Kronecker products, vec and commutation matrices (the vec-layout Jacobians).

Nothing bigger than it must be is formed:

* vec(X) is a column-major reshape (NumPy's ``X.reshape(-1, 1, order="F")``);
* the commutation matrix K₍m,n₎ is a permutation: its index array ``p`` (K v = v[p]) is
  built once per (m, n), and in a product K N and N K become ``N[p]`` and ``N[:, p′]``
  (p′ the inverse permutation, that of K₍n,m₎; ``take`` in the array API); a lone K is
  ``eye(mn)[p]``;
* a Kronecker product of two factors times a neighbouring matrix never forms P ⊗ Q:
  (P ⊗ Q) N = Σ reshaped products (``tensordot(P, Q @ N.reshape(pc, qc, -1), axes=1)``),
  and N (P ⊗ Q) likewise through the transpose; only a Kronecker product standing alone
  (or next to a diagonal scaling) is formed (``np.kron``; a broadcast product in the array API);
* diag(vec F) is an entrywise scaling, as every diagonal matrix in a product is
  (:mod:`.products`).

The Kronecker product and the vec reshape agree on the index convention: with vec stacking columns,
vec(A X B) = (Bᵀ ⊗ A) vec(X) holds for the code as for the symbolic ⊗.
Mixed into :class:`~.codegen.Printer`, whose core provides ``value``, ``full``, ``matrix``
and ``dim``; :meth:`ProductEmitters.product` calls :meth:`fold_permutations` and
:meth:`fold_kroneckers` on a chain's factors.
"""
from __future__ import annotations

from ..core.kronecker import CommutationMatrix, KroneckerProduct

_FOLDABLE = ("mat", "val", "kron")


class KroneckerEmitters:
    """Kronecker products, vec and the commutation matrix (mixed into the printer)."""

    def emit_KroneckerProduct(self, expr):
        codes = [self.full(self.value(f), f.shape) for f in expr.args]
        code = codes[0]
        for other in codes[1:]:
            code = self.spell("kron", a=code, b=other)
        return self.matrix(code, expr)

    def emit_Vec(self, expr):
        inner = self.full(self.value(expr.arg), expr.arg.shape)
        return self.matrix(self.spell("vec", x=inner), expr)

    def emit_CommutationMatrix(self, expr):
        m, n = (self.dim(d) for d in expr.args)
        identity = self.spell("eye", n=f"{m} * {n}")
        return self.matrix(self.spell("take_rows", x=identity, p=self.permutation(*expr.args)), expr)

    def permutation(self, rows, cols) -> str:
        """The variable holding p with K₍rows,cols₎ v = v[p]: entry i + m·j of vec(X) goes
        to entry j + n·i of vec(Xᵀ)."""
        m, n = self.dim(rows), self.dim(cols)
        return self.assign(self.spell("permutation", m=m, n=n))

    # -- folding into a product's neighbours

    def fold_permutations(self, items):
        """Replace each commutation matrix of a chain by an index permutation of its right
        (else left) neighbour: K₍m,n₎ N = N[p₍m,n₎], N K₍m,n₎ = N[:, p₍n,m₎]."""
        while any(kind == "perm" for kind, _ in items):
            i = next(j for j, (kind, _) in enumerate(items) if kind == "perm")
            K = items[i][1]
            j = _neighbour(items, i, _FOLDABLE)
            if j is None:
                items = items[:i] + [("mat", K)] + items[i + 1:]
                continue
            kind, neighbour = items[j]
            shape = _shape(items[j])
            code = self.full(self._item_value(items[j]), shape)
            if j > i:
                permuted = self.matrix(self.spell("take_rows", x=code, p=self.permutation(K.rows_of_x, K.cols_of_x)))
            else:
                permuted = self.matrix(self.spell("take_columns", x=code,
                                                  p=self.permutation(K.cols_of_x, K.rows_of_x)))
            lo, hi = min(i, j), max(i, j)
            items = items[:lo] + [("val", (permuted, shape))] + items[hi + 1:]
        return items

    def fold_kroneckers(self, items):
        """Multiply each Kronecker product of two factors into its right (else left)
        neighbour without forming it; one with no such neighbour, or with more factors,
        stays a matrix (formed whole)."""
        while any(kind == "kron" for kind, _ in items):
            i = next(j for j, (kind, _) in enumerate(items) if kind == "kron")
            product = items[i][1]
            j = _neighbour(items, i, ("mat", "val"))
            if j is None or len(product.args) != 2:
                items = items[:i] + [("mat", product)] + items[i + 1:]
                continue
            P, Q = product.args
            shape = _shape(items[j])
            N = self.full(self._item_value(items[j]), shape)
            p = self.full(self.value(P), P.shape)
            q = self.full(self.value(Q), Q.shape)
            if j > i:
                # (P ⊗ Q) N: row a·qr + b of the result is Σ P[a, c] Q[b, d] N[c·qc + d]
                pc, qc = self.dim(P.shape[1]), self.dim(Q.shape[1])
                rows = f"{self.dim(P.shape[0])} * {self.dim(Q.shape[0])}"
                blocks = self.spell("reshape", x=N, shape=f"{pc}, {qc}, -1")
                summed = self.spell("tensordot", a=p, b=f"{q} @ {blocks}")
                code = self.spell("reshape", x=summed, shape=f"{rows}, -1")
                result_shape = (product.shape[0], shape[1])
            else:
                # N (P ⊗ Q) = ((Pᵀ ⊗ Qᵀ) Nᵀ)ᵀ
                pr, qr = self.dim(P.shape[0]), self.dim(Q.shape[0])
                cols = f"{self.dim(P.shape[1])} * {self.dim(Q.shape[1])}"
                blocks = self.spell("reshape", x=f"{N}.T", shape=f"{pr}, {qr}, -1")
                summed = self.spell("tensordot", a=f"{p}.T", b=f"{q}.T @ {blocks}")
                code = self.spell("reshape", x=summed, shape=f"{cols}, -1") + ".T"
                result_shape = (shape[0], product.shape[1])
            folded = self.matrix(code)
            lo, hi = min(i, j), max(i, j)
            items = items[:lo] + [("val", (folded, result_shape))] + items[hi + 1:]
        return items


def chain_kind(factor):
    """The kind of a chain factor this module handles ("perm", "kron"), else None."""
    if isinstance(factor, CommutationMatrix):
        return "perm"
    if isinstance(factor, KroneckerProduct):
        return "kron"
    return None


def _neighbour(items, i, kinds):
    """The index of the right (else left) neighbour of item i whose kind is in ``kinds``."""
    if i + 1 < len(items) and items[i + 1][0] in kinds:
        return i + 1
    if i > 0 and items[i - 1][0] in kinds:
        return i - 1
    return None


def _shape(item):
    kind, m = item
    return m[1] if kind == "val" else m.shape

