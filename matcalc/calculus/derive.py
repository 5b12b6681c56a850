"""The derivation engine: gradients, Jacobians and Hessians as recorded derivations.

* ``gradient(f, X)`` — reverse mode.  Starting from f̄ = 1, walk the expression DAG from
  the top (each shared subexpression once, after all its uses), apply each node's adjoint
  rule from :mod:`matcalc.rules` and simplify each adjoint as it is formed.  The result has
  X's shape (the layout convention of the seeds: ∂f/∂x of a row vector is a row).
* ``jacobian(y, x)`` — forward mode.  Build the differential dy (linear in dx) bottom-up,
  then read the Jacobian off it: dy = J dx for column vectors (numerator layout,
  J[i, j] = ∂yᵢ/∂xⱼ); denominator layout is the transpose.  When y or x is a matrix the
  Jacobian is taken in the vec layout: vec(dY) = J vec(dX) with vec stacking columns, so
  J is (rows(Y)·cols(Y)) × (rows(X)·cols(X)) and vec(A X B) gives Bᵀ ⊗ A
  (:mod:`matcalc.calculus.vectorize` reads it off).
* ``hessian(f, x)`` — the Jacobian of the gradient (for a matrix X, of vec(∇f): mn × mn).
* ``vjp(Y, X, G)`` — reverse mode seeded with Ȳ = G instead of f̄ = 1: the gradient of
  ⟨G, Y⟩ = sum(G ⊙ Y) with G held constant, without building that sum.

A variable is a matrix symbol or a scalar symbol (``mc.scalar("tau")``).  With respect to a
scalar b, reverse mode collects b̄ like any other adjoint (a scalar), and the forward-mode
differential dy is linear in the scalar db, so ∂y/∂b is dy with db = 1
(:func:`_scalar_jacobian`).

Each node visited becomes a :class:`Step` (rule, target, before, after); a
:class:`Derivation` holds them: data for printers and templates, which do no math.
"""
from __future__ import annotations

import sympy
from sympy import Basic, S
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr, Trace, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol
from sympy.matrices.expressions.special import OneMatrix

from ..core import algebra, budget as _budget
from ..core.functions import adopt
from ..core.walk import dimensions, scalar_symbols
from ..errors import DifferentiationError, ShapeError
from . import rules
from .rules import adjoint_rule, differential_rule
from ..core.shapes import shape_text
from .derivation import Derivation, Step
from .simplify import simplify, transposed
from . import vectorize
from ..core.symbols import MatrixSymbol, matrix_symbols


# ------------------------------------------------------------------ checks

def _check_variables(f, wrt):
    if isinstance(wrt, (list, tuple)):
        variables = tuple(wrt)
    else:
        variables = (wrt,)
    if not variables:
        raise DifferentiationError("no variable to differentiate with respect to")
    free = set(matrix_symbols(f))
    for x in variables:
        if is_scalar_variable(x):
            _check_scalar_variable(f, x)
            continue
        if not isinstance(x, SympyMatrixSymbol):
            kind = type(x).__name__
            raise DifferentiationError(
                f"can only differentiate with respect to a matrix symbol (made with rowvec, colvec or "
                f"matrix) or a scalar symbol (made with scalar), not the {kind} {x}")
        if x not in free:
            twins = [s for s in free if s.name == x.name]
            if twins:
                raise DifferentiationError(
                    f"{shape_text(x)} does not occur in the function, but a different symbol named "
                    f"{x.name} does: {shape_text(twins[0])}; use the same symbol object")
    return variables


def is_scalar_variable(x) -> bool:
    """A scalar symbol (``mc.scalar("b")``) as a variable: a SymPy ``Symbol``."""
    return isinstance(x, sympy.Symbol)


def _check_scalar_variable(f, x):
    dims = dimensions([f])
    if x in dims:
        raise DifferentiationError(f"{x} is a dimension of the expression, not a variable")
    present = scalar_symbols([f], dims)
    if x not in present:
        twins = [s for s in present if s.name == x.name]
        if twins:
            raise DifferentiationError(
                f"the scalar {x} does not occur in the function, but a different symbol named {x.name} does "
                f"(the same name with other assumptions, such as real=True from mc.scalar); "
                f"use the same symbol object")


def _zero_like(x):
    return ZeroMatrix(*x.shape) if isinstance(x, MatrixExpr) else S.Zero


def _check_scalar(f):
    if isinstance(f, MatrixExpr):
        if f.shape != (1, 1):
            raise DifferentiationError(
                f"a gradient needs a scalar function, but {shape_text(f)} is a matrix; "
                f"use jacobian for vector functions")
    elif not isinstance(f, sympy.Expr):
        raise DifferentiationError(f"cannot differentiate {f!r}: not a SymPy expression")


class _Dependence:
    """Which subexpressions depend on the variables (memoised)."""

    def __init__(self, variables):
        self.variables = set(variables)
        self.memo = {}

    def __call__(self, node) -> bool:
        return algebra.depends(node, self.variables, self.memo)


def _topological(root, depends):
    """Nodes that depend on the variables, each after every node that uses it."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen or not depends(node):
            continue
        seen.add(node)
        stack.append((node, True))
        if not isinstance(node, SympyMatrixSymbol):
            for child in node.args:
                if child not in seen:
                    stack.append((child, False))
    return list(reversed(order))


# ------------------------------------------------------------------ reverse mode

def _reverse(f, variables, seed=S.One):
    """Reverse mode from f̄ = ``seed`` (1 for a gradient, the cotangent G for a vjp)."""
    depends = _Dependence(variables)
    adjoints = {f: [seed]}
    sources = {f: []}
    steps, results = [], {}
    for node in _topological(f, depends):
        _budget.tick()
        contributions = [c for c in adjoints.get(node, []) if not algebra.is_zero(c)]
        if not contributions:
            continue
        raw = algebra.add(*contributions)
        value = simplify(raw)
        if node is not f:
            names = dict.fromkeys(sources[node])
            bookkeeping = set(names) <= rules.BOOKKEEPING or rules.is_fused(node)
            steps.append(Step(" and ".join(names), node, raw, value, bookkeeping))
        if node in depends.variables:
            results[node] = value
            continue
        if algebra.is_zero(value):
            continue
        rule = adjoint_rule(node)
        for child, contribution in rule.function(node, value):
            if contribution is None or not depends(child):
                continue
            adjoints.setdefault(child, []).append(contribution)
            sources.setdefault(child, []).append(rules.source_name(rule, node, depends))
    ordered = {}
    for x in variables:
        value = results.get(x)
        if value is None or algebra.is_zero(value):
            ordered[x] = _zero_like(x)
        elif not isinstance(x, MatrixExpr) and isinstance(value, MatrixExpr):
            ordered[x] = algebra.sum_entries(value)   # a 1×1 adjoint of a scalar: the scalar it holds
        else:
            ordered[x] = value
    return ordered, steps


@_budget.budgeted("differentiating")
def derive(f, wrt, *, kind="gradient", layout="numerator", cotangent=None):
    """Differentiate and keep the steps.

    ``wrt`` is a variable or a list of them: matrix symbols and scalar symbols
    (``mc.scalar``).  ``kind="gradient"`` (scalar f, any variables), ``"jacobian"`` (vector
    f, vector or scalar variables), ``"hessian"`` (scalar f, a vector or scalar variable) or
    ``"vjp"`` (any f with a ``cotangent`` G of f's shape: the gradient of ⟨G, f⟩, see
    :func:`vjp`; giving ``cotangent`` implies ``kind="vjp"``).  Returns a :class:`Derivation`.
    """
    if isinstance(f, str):
        raise TypeError("derive takes an expression, not text; use mc.parse(text, shapes) first")
    f = adopt(_sympify(f) if not isinstance(f, Basic) else f)
    if layout not in ("numerator", "denominator"):
        raise ValueError(f"layout must be 'numerator' or 'denominator', not {layout!r}")
    if cotangent is not None and kind == "gradient":
        kind = "vjp"
    variables = _check_variables(f, wrt)
    if kind == "gradient":
        _check_scalar(f)
        results, steps = _reverse(f, variables)
        return Derivation(f, variables, "gradient", results, steps, layout)
    if kind == "vjp":
        G = _check_cotangent(f, cotangent, variables)
        results, steps = _reverse(f, variables, seed=G)
        return Derivation(f, variables, "vjp", results, steps, layout, cotangent=G)
    if kind == "jacobian":
        results, steps = {}, []
        for x in variables:
            read_off = _scalar_jacobian if is_scalar_variable(x) else _jacobian
            results[x], more = read_off(f, x, layout)
            steps.extend(more)
        return Derivation(f, variables, "jacobian", results, steps, layout)
    if kind == "hessian":
        _check_scalar(f)
        results, steps = {}, []
        for x in variables:
            if is_scalar_variable(x):
                results[x], more = _scalar_hessian(f, x)
                steps.extend(more)
                continue
            grads, first = _reverse(f, (x,))
            hess, second = _jacobian(grads[x], x, "numerator")
            results[x] = hess
            steps.extend(first + [Step("gradient", x, grads[x], grads[x])] + second)
        return Derivation(f, variables, "hessian", results, steps, "numerator")
    raise ValueError(f"kind must be 'gradient', 'jacobian', 'hessian' or 'vjp', not {kind!r}")


def gradient(f, X, *, budget=None):
    """∂f/∂X for a scalar f (a SymPy scalar or a 1×1 matrix expression), shaped like X.

    X may be a matrix symbol, a scalar symbol (``mc.scalar("b")``: the result is a scalar
    expression) or a list of both (a tuple of results).  ``budget`` as for :func:`derive`."""
    return derive(f, X, kind="gradient", budget=budget).result


def jacobian(y, x, layout="numerator", *, budget=None):
    """The Jacobian of y (a vector, or a matrix) with respect to the symbol x (a vector, a
    matrix, or a scalar).

    ``layout="numerator"``: (len y)×(len x), J[i, j] = ∂yᵢ/∂xⱼ (seed 000: ∂(xA + b)/∂x = Aᵀ).
    For a matrix y or x the entries are those of vec(y) and vec(x), vec stacking columns:
    vec(dY) = J vec(dX), so ∂(A X B)/∂X = Bᵀ ⊗ A and ∂X⁻¹/∂X = −(X⁻ᵀ ⊗ X⁻¹).
    ``layout="denominator"``: the transpose.  With respect to a scalar symbol b, ∂y/∂b of
    a row or column vector y of length n is an n×1 column in numerator layout and a 1×n
    row in denominator layout; of a matrix Y it is shaped like Y (entries ∂Yᵢⱼ/∂b) in
    either layout; of a scalar it is a scalar.  ``budget`` as for :func:`derive`.
    """
    return derive(y, x, kind="jacobian", layout=layout, budget=budget).result


def hessian(f, x, *, budget=None):
    """The n×n Hessian H[i, j] = ∂²f/∂xᵢ∂xⱼ of a scalar f with respect to a vector symbol x;
    for an m×n matrix X the mn×mn Jacobian of vec(∇f) in the vec layout (entries indexed by
    vec(X), stacking columns): tr(XᵀSX) gives I ⊗ (S + Sᵀ); with respect to a scalar symbol
    b, the scalar second derivative ∂²f/∂b².  ``budget`` as for :func:`derive`."""
    return derive(f, x, kind="hessian", budget=budget).result


def vjp(Y, X, G, *, budget=None):
    """The vector-Jacobian product ∂⟨G, Y⟩/∂X: the gradient of sum(G ⊙ Y) with respect to X,
    with the cotangent G held constant, shaped like X.

    Y is a matrix (or scalar) expression, G a matrix symbol or expression of Y's shape (a
    scalar for a scalar Y); X a variable or a list of them, as for :func:`gradient`.  G is
    held constant, as in automatic differentiation: a G that depends on X (the upstream
    2(Y − R) of ‖Y − R‖²) gives J(X)ᵀ G, the chain rule's step, not the gradient of
    sum(G ⊙ Y).  Computed in reverse mode from Ȳ = G, so ⟨G, Y⟩ is never built:
    this is one backpropagation step through Y, e.g. the gradients of attention
    softmax(Q Kᵀ/√d) V with respect to Q, K and V given the upstream G.
    ``budget`` as for :func:`derive`."""
    return derive(Y, X, kind="vjp", cotangent=G, budget=budget).result


def _check_cotangent(Y, G, variables):
    """G as an expression of Y's shape."""
    if G is None:
        raise DifferentiationError("a vector-Jacobian product needs a cotangent G of the function's shape")
    G = adopt(_sympify(G) if not isinstance(G, Basic) else G)
    y_shape = Y.shape if isinstance(Y, MatrixExpr) else None
    g_shape = G.shape if isinstance(G, MatrixExpr) else None
    if y_shape is None and g_shape == (1, 1) or y_shape == (1, 1) and g_shape is None:
        pass   # a scalar and a 1×1 matrix are one thing
    elif y_shape != g_shape:
        what = shape_text(G) if g_shape else f"{G} (a scalar)"
        of = shape_text(Y) if y_shape else f"{Y} (a scalar)"
        raise ShapeError(f"the cotangent {what} must have the shape of the function {of}")
    return G


# ------------------------------------------------------------------ forward mode

def _differential(expr, x, dx):
    """(dexpr, steps): the differential of expr, linear in the symbol dx."""
    depends = _Dependence([x])
    memo, steps = {}, []

    def d(node):
        if node == x:
            return dx
        if not depends(node):
            return None
        if node not in memo:
            rule = differential_rule(node)
            raw = rule.function(node, d)
            value = simplify(raw)
            memo[node] = value
            if raw is not None:
                name = rules.source_name(rule, node, depends)
                steps.append(Step(name, node, raw, value, name in rules.BOOKKEEPING))
        return memo[node]

    return d(expr), steps


def _jacobian(y, x, layout):
    if vectorize.is_matrix_shaped(x) or vectorize.is_matrix_shaped(y):
        # the vec layout: vec(dY) = J vec(dX)
        dX = MatrixSymbol(f"d{x.name}", *x.shape)
        dY, steps = _differential(y, x, dX)
        J = vectorize.read_jacobian(dY, dX, y)
        steps.append(Step(vectorize.READ_OFF, y, dY, J))
        if layout == "denominator":
            J = simplify(algebra.transpose(J))
        return J, steps
    y_shape = y.shape if isinstance(y, MatrixExpr) else (1, 1)
    y_length = y_shape[1] if y_shape[0] == 1 else y_shape[0]
    x_length = x.shape[1] if x.shape[0] == 1 else x.shape[0]
    dx = MatrixSymbol(f"d{x.name}", *x.shape)
    dy, steps = _differential(y, x, dx)
    if dy is None or algebra.is_zero(dy):
        J = ZeroMatrix(y_length, x_length)
    else:
        # Read the Jacobian off dy in column form: dy = J dξ with dξ a column.
        column = MatrixSymbol(f"d{x.name}", x_length, 1) if x.shape[0] == 1 else dx
        if x.shape[0] == 1:
            dy = algebra.substitute(dy, {dx: algebra.transpose(column)})
        if not isinstance(dy, MatrixExpr):
            dy = algebra.scalar_times_one(dy)
        if dy.shape[0] == 1 and dy.shape[1] != 1 or (y_shape[0] == 1 and y_shape[1] != 1):
            dy = algebra.transpose(dy)
        dy = simplify(dy)
        try:
            J = simplify(_JacobianReader(column)._coefficient(dy))
        except DifferentiationError:
            # a form the column reader does not know (a sum over a matrix-valued
            # intermediate, say): the vec reader is the general one
            J = vectorize.read_jacobian(dy, column)
        steps.append(Step("read off the Jacobian", y, dy, J))
    if layout == "denominator":
        J = simplify(algebra.transpose(J))
    return J, steps


def _scalar_jacobian(y, b, layout):
    """∂y/∂b for a scalar symbol b: dy is linear in the scalar db, so ∂y/∂b = dy with db = 1.

    A row or column vector y of length n gives an n×1 column in numerator layout (its
    transpose in denominator layout); a matrix or a scalar y gives ∂y/∂b shaped like y."""
    db = sympy.Symbol(f"d{b.name}", real=True)
    if db in scalar_symbols([y]):
        db = sympy.Dummy(f"d{b.name}", real=True)
    dy, steps = _differential(y, b, db)
    vector = isinstance(y, MatrixExpr) and (y.shape[0] == 1 or y.shape[1] == 1) and y.shape != (1, 1)
    if dy is None or algebra.is_zero(dy):
        J = _zero_like(y)
    else:
        if vector and y.shape[0] == 1:
            dy = algebra.transpose(dy)   # read off as a column
        J = simplify(algebra.substitute(dy, {db: S.One}))
        if J is None:
            J = _zero_like(dy)
        steps.append(Step("read off the Jacobian", y, simplify(dy), J))
    if vector and isinstance(J, MatrixExpr) and J.shape[1] != 1:
        J = simplify(algebra.transpose(J))   # zero of a row: a column
    if vector and layout == "denominator":
        J = simplify(algebra.transpose(J))
    return J, steps


def _scalar_hessian(f, b):
    """∂²f/∂b² for a scalar symbol b: the gradient (reverse mode), then its derivative
    (forward mode, read off with db = 1)."""
    grads, first = _reverse(f, (b,))
    g = grads[b]
    second, more = _scalar_jacobian(g, b, "numerator")
    if isinstance(second, MatrixExpr):
        second = algebra.sum_entries(second)
    return second, first + [Step("gradient", b, g, g)] + more


class _JacobianReader:
    """Reads M off a column differential dy = M dξ, linear in the column symbol dξ."""

    def __init__(self, v):
        self.v = v
        self.has = _Dependence([v])

    def _coefficient(self, expr):
        """M with expr = M v, for a column expr linear in the column symbol v."""
        if expr == self.v:
            return Identity(self.v.shape[0])
        if isinstance(expr, MatAdd):
            return algebra.add(*[self._coefficient(t) for t in expr.args if self.has(t)])
        if isinstance(expr, HadamardProduct):
            inside = [f for f in expr.args if self.has(f)]
            outside = [f for f in expr.args if not self.has(f)]
            if len(inside) != 1:
                raise _not_linear(expr)
            scale = algebra.hadamard(*outside)
            return algebra.mul(DiagMatrix(scale), self._coefficient(inside[0]))
        if isinstance(expr, MatMul):
            coefficient, matrices = expr.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if not positions and self.has(coefficient):
                # s(v) u with a scalar s linear in v: the outer product u (∂s/∂v)
                constant, linear = coefficient.as_independent(self.v, as_Add=False)
                return algebra.mul(constant, *matrices, self._row_coefficient(linear))
            if len(positions) != 1 or self.has(coefficient):
                raise _not_linear(expr)
            i = positions[0]
            left, inner, right = matrices[:i], matrices[i], matrices[i + 1:]
            if isinstance(inner, MatAdd):
                # L (P + Q) R = L P R + L Q R
                return algebra.add(*[self._coefficient(simplify(algebra.mul(coefficient, *left, term, *right)))
                                     for term in inner.args if self.has(term)])
            if inner.shape[1] == 1:
                # L g(v) r with r 1×1: the scalar r scales.
                scale = [Trace(algebra.mul(*right))] if right else []
                return algebra.mul(coefficient, *scale, *left, self._coefficient(inner))
            if inner.shape[0] == 1 and right:
                # L gᵀ R with gᵀ a row: L (gᵀR) = L (Rᵀ g) for a column R.
                g = transposed(inner)
                R = algebra.mul(*right)
                return algebra.mul(coefficient, *left, algebra.transpose(R), self._coefficient(g))
            if isinstance(inner, DiagMatrix) and right:
                R = algebra.mul(*right)
                if R.shape[1] == 1:
                    return algebra.mul(coefficient, *left, DiagMatrix(R), self._coefficient(inner.args[0]))
            if isinstance(inner, HadamardProduct) and right:
                broadcast = self._broadcast_hadamard(inner, algebra.mul(*right))
                if broadcast is not None:
                    return algebra.mul(coefficient, *left, broadcast)
            raise _not_linear(expr)

        if isinstance(expr, DiagonalOf):
            return self._diagonal_coefficient(expr.arg)
        if not isinstance(expr, MatrixExpr) and expr.is_Mul:
            scalars = [a for a in expr.args if not self.has(a)]
            inside = [a for a in expr.args if self.has(a)]
            if len(inside) == 1:
                return algebra.mul(*scalars, self._coefficient(inside[0]))
        raise _not_linear(expr)

    def _broadcast_hadamard(self, H, R):
        """M with (A ⊙ (u w)) R = M v, for a column R and an outer product u w whose row w
        is linear in v (a broadcast bias: V + 1b):  (A ⊙ u w) R = diag(u) A diag(R) wᵀ;
        or whose column u is (a column broadcast over columns): diag(A (wᵀ ⊙ R)) u."""
        inside = [f for f in H.args if self.has(f)]
        if len(inside) != 1 or R.shape[1] != 1:
            return None
        c, factors = inside[0].as_coeff_matrices() if isinstance(inside[0], MatMul) else (S.One, [inside[0]])
        if len(factors) != 2 or self.has(c) or factors[0].shape[1] != 1:
            return None
        u, w = factors
        A = algebra.hadamard(*[f for f in H.args if f is not inside[0]])
        if self.has(u) and not self.has(w):
            # (A ⊙ u w) R = diag(A (wᵀ ⊙ R)) u: a column u linear in v, scaling the rows
            return algebra.mul(c, DiagMatrix(algebra.mul(A, algebra.hadamard(algebra.transpose(w), R))),
                               self._coefficient(u))
        if self.has(u):
            return None
        scale_rows = [] if algebra.is_ones(u) else [DiagMatrix(u)]
        return algebra.mul(c, *scale_rows, A, DiagMatrix(R), self._coefficient(transposed(w)))

    def _row_coefficient(self, s):
        """The row r with s = r v, for a scalar s linear in the column symbol v."""
        from ..core.functions import SumAll
        if isinstance(s, MatrixExpr):  # a 1×1 matrix expression
            return self._coefficient(s)
        if isinstance(s, SumAll):
            inner = s.arg
            if inner.shape[1] != 1 and inner.shape[0] == 1:
                inner = transposed(inner)  # the sum of a row is the sum of its transpose
            if inner.shape[1] != 1:
                raise _not_linear(s)
            return algebra.mul(OneMatrix(1, inner.shape[0]), self._coefficient(inner))
        if isinstance(s, Trace):
            return self._trace_coefficient(s.arg)
        if s.is_Add:
            return algebra.add(*[self._row_coefficient(t) for t in s.args if self.has(t)])
        if s.is_Mul:
            constant, linear = s.as_independent(self.v, as_Add=False)
            if constant != 1:
                return algebra.mul(constant, self._row_coefficient(linear))
        raise _not_linear(s)

    def _diagonal_coefficient(self, M):
        """M' with diagonal(M) = M' v, for an M linear in v through a diagonal matrix."""
        if isinstance(M, DiagMatrix):
            g = M.args[0]
            return self._coefficient(g if g.shape[1] == 1 else transposed(g))
        if isinstance(M, MatAdd):
            return algebra.add(*[self._diagonal_coefficient(t) for t in M.args if self.has(t)])
        if isinstance(M, MatMul):
            coefficient, matrices = M.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if len(positions) == 1 and isinstance(matrices[positions[0]], DiagMatrix) and not self.has(coefficient):
                # diagonal(L diag(g) R)ᵢ = Σⱼ Lᵢⱼ gⱼ Rⱼᵢ = ((L ⊙ Rᵀ) g)ᵢ
                i = positions[0]
                L = algebra.mul(*matrices[:i]) if i else Identity(matrices[i].shape[0])
                R = algebra.mul(*matrices[i + 1:]) if i + 1 < len(matrices) else Identity(matrices[i].shape[0])
                g = matrices[i].args[0]
                g = g if g.shape[1] == 1 else transposed(g)
                return algebra.mul(coefficient, algebra.hadamard(L, algebra.transpose(R)), self._coefficient(g))
        raise _not_linear(DiagonalOf(M))

    def _trace_coefficient(self, M):
        """The row r with tr M = r v, for a square M linear in the column symbol v."""
        if M.shape == (1, 1) and not isinstance(M, MatAdd):
            return self._coefficient(M)
        if isinstance(M, MatAdd):
            return algebra.add(*[self._trace_coefficient(t) for t in M.args if self.has(t)])
        if isinstance(M, MatMul):
            coefficient, matrices = M.as_coeff_matrices()
            positions = [i for i, m in enumerate(matrices) if self.has(m)]
            if len(positions) == 1 and not self.has(coefficient):
                i = positions[0]
                inner = matrices[i]
                if isinstance(inner, MatAdd):
                    return algebra.add(*[
                        self._trace_coefficient(simplify(algebra.mul(coefficient, *matrices[:i], t, *matrices[i + 1:])))
                        for t in inner.args if self.has(t)])
                around = algebra.mul(*matrices[i + 1:], *matrices[:i])  # tr(L g R) = tr(R L g)
                if inner.shape[1] == 1:
                    return algebra.mul(coefficient, around, self._coefficient(inner))
                if inner.shape[0] == 1:
                    # tr(L gᵀ R) = gᵀ (R L) = (R L)ᵀ g
                    g = transposed(inner)
                    return algebra.mul(coefficient, algebra.transpose(around), self._coefficient(g))
        raise _not_linear(Trace(M))


def _not_linear(expr):
    return DifferentiationError(
        f"cannot read a Jacobian off the differential {expr} ({type(expr).__name__}); "
        f"this form of vector function is not supported yet")
