"""An independent NumPy interpreter for matcalc expressions, for tests only.

It walks the expression tree directly (no code generation, no CSE), so it checks
``matcalc.compile`` as well as the differentiator, and it lets every derivative rule be
checked against central finite differences.
"""
from __future__ import annotations

import math
import numpy as np
import sympy
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatAdd, MatMul, OneMatrix, Trace,
    Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixExpr, MatrixSymbol
from sympy.matrices.expressions.matpow import MatPow
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.tensor.array.expressions.array_expressions import (
    ArrayAdd, ArrayTensorProduct, PermuteDims, ZeroArray,
)

from matcalc.core import functions as F
from matcalc.core.kronecker import CommutationMatrix, KroneckerProduct, Vec


def symbols_of(expr):
    return sorted({s for s in sympy.preorder_traversal(expr) if isinstance(s, MatrixSymbol)},
                  key=lambda s: s.name)


def scalar_symbols_of(expr):
    """The scalar symbols of ``expr`` that are not dimensions (the shapes' symbols)."""
    nodes = list(sympy.preorder_traversal(expr))
    dims = set()
    for node in nodes:
        if isinstance(node, MatrixExpr):
            for d in node.shape:
                dims |= sympy.sympify(d).free_symbols
    return sorted({s for s in nodes if isinstance(s, sympy.Symbol) and not isinstance(s, sympy.Dummy)
                   and s not in dims}, key=lambda s: s.name)


def infer_dims(expr, values):
    dims = {}
    for s in symbols_of(expr):
        if s.name not in values:
            continue
        for symbolic, actual in zip(s.shape, np.shape(values[s.name])):
            if isinstance(symbolic, sympy.Symbol):
                dims[symbolic] = actual
    return dims


def evaluate(expr, values, dims=None):
    """Evaluate ``expr`` with arrays ``values`` (by symbol name); scalars come back as floats."""
    if dims is None:
        dims = infer_dims(expr, values)
    return _Evaluator(values, dims)(expr)


class _Evaluator:
    def __init__(self, values, dims):
        self.values = values
        self.dims = dims

    def size(self, d):
        return int(sympy.sympify(d).subs(self.dims))

    def shape(self, expr):
        return tuple(self.size(d) for d in expr.shape)

    def __call__(self, e):
        ev = self
        if isinstance(e, MatrixSymbol):
            return np.asarray(self.values[e.name], dtype=float)
        if isinstance(e, MatMul):
            coefficient, matrices = e.as_coeff_matrices()
            out = ev(matrices[0])
            for m in matrices[1:]:
                out = out @ ev(m)
            return ev(coefficient) * out
        if isinstance(e, MatAdd):
            return sum(ev(a) for a in e.args)
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, Inverse):
            return np.linalg.inv(ev(e.arg))
        if isinstance(e, MatPow):
            if not e.args[1].is_Integer:   # a 1×1 matrix to a real or symbolic power
                return ev(e.args[0]) ** ev(e.args[1])
            return np.linalg.matrix_power(ev(e.args[0]), int(e.args[1]))
        if isinstance(e, HadamardProduct):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out * ev(a)
            return out
        if isinstance(e, HadamardPower):
            return ev(e.args[0]) ** ev(e.args[1])
        if isinstance(e, OneMatrix):
            return np.ones(self.shape(e))
        if isinstance(e, Identity):
            return np.eye(self.size(e.shape[0]))
        if isinstance(e, ZeroMatrix):
            return np.zeros(self.shape(e))
        if isinstance(e, DiagMatrix):
            return np.diag(ev(e.args[0]).ravel())
        if isinstance(e, DiagonalOf):
            return np.diag(ev(e.args[0]))[:, None]
        if isinstance(e, KroneckerProduct):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = np.kron(out, ev(a))
            return out
        if isinstance(e, Vec):
            return ev(e.arg).reshape(-1, 1, order="F")
        if isinstance(e, CommutationMatrix):
            # K vec(X) = vec(Xᵀ), written out entry by entry
            m, n = (self.size(d) for d in e.args)
            K = np.zeros((m * n, m * n))
            for i in range(m):
                for j in range(n):
                    K[j + n * i, i + m * j] = 1.0
            return K
        # SymPy's array expressions (the 4-D results of its matrix-by-matrix derivatives)
        if isinstance(e, ArrayTensorProduct):
            out = np.asarray(ev(e.args[0]), dtype=float)
            for a in e.args[1:]:
                out = np.multiply.outer(out, ev(a))
            return out
        if isinstance(e, PermuteDims):
            # axis p of the result is axis permutation(p) of the argument: SymPy's shapes
            # (index_order_old="ijklm", index_order_new="kijml" gives (0 2 1)(3 4)) and
            # its as_explicit() agree (tests/calculus/test_sympy_derivatives.py checks it)
            return np.transpose(ev(e.expr), e.permutation.array_form)
        if isinstance(e, ArrayAdd):
            return sum(ev(a) for a in e.args)
        if isinstance(e, ZeroArray):
            return np.zeros(self.shape(e))
        if isinstance(e, F.Exp):
            return np.exp(ev(e.arg))
        if isinstance(e, F.Log):
            return np.log(ev(e.arg))
        if isinstance(e, F.Tanh):
            return np.tanh(ev(e.arg))
        if isinstance(e, F.Sigmoid):
            return 1 / (1 + np.exp(-ev(e.arg)))
        if isinstance(e, F.Relu):
            return np.maximum(ev(e.arg), 0)
        if isinstance(e, F.Step):
            return (ev(e.arg) > 0).astype(float)
        if isinstance(e, F.Sqrt):
            return np.sqrt(ev(e.arg))
        if type(e) in ELEMENTWISE:
            return ELEMENTWISE[type(e)](ev(e.arg))
        if isinstance(e, ElementwiseApplyFunction):
            (d,), body = e.function.variables, e.function.expr
            # the other scalar symbols of f's body (the b of d ↦ sin(b d)) take their values
            body = body.subs({s: ev(s) for s in body.free_symbols - {d}})
            return np.vectorize(lambda t: float(body.subs(d, t)))(ev(e.expr))
        if isinstance(e, F.Maximum):
            return np.maximum(ev(e.args[0]), ev(e.args[1]))
        if isinstance(e, F.Minimum):
            return np.minimum(ev(e.args[0]), ev(e.args[1]))
        if isinstance(e, F.MaxAll):
            return float(ev(e.arg).max())
        if isinstance(e, F.MinAll):
            return float(ev(e.arg).min())
        if isinstance(e, F.MaxAlong):
            return ev(e.arg).max(axis=e.axis, keepdims=True)
        if isinstance(e, F.MinAlong):
            return ev(e.arg).min(axis=e.axis, keepdims=True)
        if isinstance(e, F.ArgMax):     # ArgMin too: the indicator, ties sharing equally
            z = ev(e.arg)
            axis = None if e.axis == -1 else e.axis
            target = z.min(axis=axis, keepdims=True) if isinstance(e, F.ArgMin) else z.max(axis=axis, keepdims=True)
            hits = (z == target).astype(float)
            return hits / hits.sum(axis=axis, keepdims=True)
        if isinstance(e, F.Norm1):
            return float(np.abs(ev(e.arg)).sum())
        if isinstance(e, F.Softmax):
            z = ev(e.arg)
            z = np.exp(z - z.max(axis=e.axis, keepdims=True))
            return z / z.sum(axis=e.axis, keepdims=True)
        if isinstance(e, F.LogSumExp):
            z = ev(e.arg)
            m = z.max(axis=e.axis, keepdims=True)
            return m + np.log(np.exp(z - m).sum(axis=e.axis, keepdims=True))
        if isinstance(e, F.SumAll):
            return float(ev(e.arg).sum())
        if isinstance(e, F.Norm):
            return float(np.sqrt((ev(e.arg) ** 2).sum()))
        if isinstance(e, Trace):
            return float(np.trace(ev(e.arg)))
        if isinstance(e, Determinant):
            return float(np.linalg.det(ev(e.arg)))
        if isinstance(e, sympy.Add):
            return sum(ev(a) for a in e.args)
        if isinstance(e, sympy.Mul):
            out = 1.0
            for a in e.args:
                out = out * ev(a)
            return out
        if isinstance(e, sympy.Pow):
            return ev(e.args[0]) ** ev(e.args[1])
        if isinstance(e, sympy.log):
            return np.log(ev(e.args[0]))
        if isinstance(e, sympy.exp):
            return np.exp(ev(e.args[0]))
        if type(e) in SCALAR_FUNCTIONS:
            return SCALAR_FUNCTIONS[type(e)](*[ev(a) for a in e.args])
        if isinstance(e, sympy.Symbol):
            if e in self.dims:
                return float(self.dims[e])
            return float(self.values[e.name])
        if e.is_Number or isinstance(e, sympy.NumberSymbol):
            return float(e)
        raise NotImplementedError(f"numeric evaluation of {type(e).__name__}")


def _erf(z):
    return np.vectorize(math.erf)(z)


# matcalc's elementwise nodes, each written here from its definition
ELEMENTWISE = {
    F.Sin: np.sin, F.Cos: np.cos, F.Tan: np.tan, F.Arcsin: np.arcsin, F.Arccos: np.arccos,
    F.Arctan: np.arctan, F.Sinh: np.sinh, F.Cosh: np.cosh, F.Absolute: np.abs, F.Sign: np.sign,
    F.Softplus: lambda z: np.log(1 + np.exp(z)), F.Log1p: np.log1p, F.Expm1: np.expm1, F.Erf: _erf,
    F.NormalCdf: lambda z: (1 + _erf(z / np.sqrt(2))) / 2,
    F.Gelu: lambda z: z * (1 + _erf(z / np.sqrt(2))) / 2,
}

SCALAR_FUNCTIONS = {
    sympy.tanh: np.tanh, sympy.sin: np.sin, sympy.cos: np.cos, sympy.tan: np.tan,
    sympy.asin: np.arcsin, sympy.acos: np.arccos, sympy.atan: np.arctan, sympy.sinh: np.sinh,
    sympy.cosh: np.cosh, sympy.asinh: np.arcsinh, sympy.acosh: np.arccosh, sympy.atanh: np.arctanh,
    sympy.erf: math.erf, sympy.Abs: abs, sympy.sign: np.sign,
    sympy.Heaviside: lambda x, at_zero=0.0: float(x > 0) if x != 0 else float(at_zero),
    sympy.Max: max, sympy.Min: min,
}


def scalar_value(x):
    x = np.asarray(x, dtype=float)
    assert x.size == 1, f"expected a scalar, got shape {x.shape}"
    return float(x.reshape(()))


def check_gradient(f, X, G, values, eps=1e-6, seed=0):
    """Relative error of ⟨G, V⟩ against the central difference of f along a random V."""
    rng = np.random.default_rng(seed)
    V = rng.standard_normal(np.shape(values[X.name]))
    dims = infer_dims(f, values)
    plus = dict(values, **{X.name: values[X.name] + eps * V})
    minus = dict(values, **{X.name: values[X.name] - eps * V})
    numeric = (scalar_value(evaluate(f, plus, dims)) - scalar_value(evaluate(f, minus, dims))) / (2 * eps)
    G_value = np.broadcast_to(evaluate(G, values, dims), np.shape(V))
    symbolic = float((G_value * V).sum())
    return abs(symbolic - numeric) / max(1.0, abs(numeric))


def check_jacobian(y, x, J, values, eps=1e-6, seed=0, layout="numerator"):
    """Relative error of J v against the central difference of y along v, y and v
    flattened column by column (the vec layout; for vectors, plain flattening)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(np.shape(values[x.name]))
    dims = infer_dims(y, values)
    plus = dict(values, **{x.name: values[x.name] + eps * v})
    minus = dict(values, **{x.name: values[x.name] - eps * v})
    numeric = (np.ravel(evaluate(y, plus, dims), order="F") - np.ravel(evaluate(y, minus, dims), order="F")) / (2 * eps)
    J_value = np.atleast_2d(evaluate(J, values, dims))
    if layout == "denominator":
        J_value = J_value.T
    symbolic = J_value @ v.ravel(order="F")
    return float(np.max(np.abs(symbolic - numeric)) / max(1.0, np.max(np.abs(numeric))))


def check_hessian(f, x, H, values, eps=1e-4, seed=0):
    """Relative error of uᵀHv against a second-order central difference of f (u and v
    flattened column by column: the vec layout of a Hessian with respect to a matrix)."""
    rng = np.random.default_rng(seed)
    shape = np.shape(values[x.name])
    u, v = rng.standard_normal(shape), rng.standard_normal(shape)
    dims = infer_dims(f, values)

    def at(a, b):
        return scalar_value(evaluate(f, dict(values, **{x.name: values[x.name] + eps * (a * u + b * v)}), dims))

    numeric = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * eps * eps)
    symbolic = float(u.ravel(order="F") @ evaluate(H, values, dims) @ v.ravel(order="F"))
    return abs(symbolic - numeric) / max(1.0, abs(numeric))


def random_values(expr, sizes, seed=0, positive=(), spd=(), onehot=()):
    """Random float64 arrays for every symbol of ``expr``; ``sizes`` maps dimension names to ints."""
    rng = np.random.default_rng(seed)
    dims = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    values = {}
    for s in symbols_of(expr):
        shape = tuple(int(sympy.sympify(d).subs(dims)) for d in s.shape)
        flags = getattr(s, "assumptions", frozenset())
        name = s.name
        if name in spd or "spd" in flags:
            M = rng.standard_normal(shape)
            values[name] = M @ M.T + shape[0] * np.eye(shape[0])
        elif "symmetric" in flags:
            M = rng.standard_normal(shape)
            values[name] = (M + M.T) / 2
        elif name in onehot or "onehot" in flags:
            Y = np.zeros(shape)
            Y[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1
            values[name] = Y
        elif "binary" in flags:   # 0/1 entries, both present where there are two or more
            B = rng.integers(0, 2, shape).astype(float)
            if B.size > 1:
                B.flat[:2] = (0.0, 1.0)
            values[name] = B
        elif name in positive or "positive" in flags:
            values[name] = rng.uniform(0.5, 2.0, shape)
        else:
            values[name] = rng.standard_normal(shape)
    # Scalar symbols after the matrices (their arrays stay what they were): a float64 in
    # [0.5, 2] for a positive one or one listed in ``positive``, else standard normal.
    for s in scalar_symbols_of(expr):
        if s.name in values:
            continue
        if s.name in positive or s.is_positive:
            values[s.name] = np.float64(rng.uniform(0.5, 2.0))
        else:
            values[s.name] = np.float64(rng.standard_normal())
    return values


def check_compiled(expr, values, dims=None, rtol=1e-12):
    """Compile ``expr``, call it with ``values`` (and the dimensions no array carries) and
    compare with this interpreter; returns the compiled result."""
    import matcalc as mc
    fn = mc.compile(expr)
    free = {d.name: size for d, size in (dims or {}).items() if d in fn._free_dims}
    got = fn(**{k: v for k, v in values.items() if k in fn.inputs}, **free)
    expected = evaluate(expr, values, dims)
    if getattr(expr, "shape", (1, 1)) == (1, 1):   # a 1×1 result comes back as a float
        got, expected = np.reshape(got, ()), np.reshape(expected, ())
    assert np.shape(got) == np.shape(expected), str(expr)
    assert np.all(np.isfinite(got)) or not np.all(np.isfinite(expected)), str(expr)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-12, err_msg=str(expr))
    return got
