"""Property-based tests: random expression trees, differentiated and checked numerically.

Hypothesis builds random, shape-correct trees from matcalc's primitives — matrix products
with random conforming shapes (n, m or 1 on each side), sums, differences, transposes,
Hadamard products and powers, exp/tanh/σ/relu and log/√ in safe compositions
(log exp, log σ, log(1 − σ), log(1 + exp), √exp), softmax along either axis, log-sum-exp,
diag, inverses of well-conditioned matrices (2I + tanh(·)/10), matrix squares, ones
broadcasting (1 b), rational and variable scalar coefficients (sums, traces, norms), scalar
variables s and t (scaling a matrix, added to every entry, or in scalar algebra) — then
reduces them to a scalar (sum, trace, norm, uᵀEw, sum of a Hadamard product).

``mc.gradient`` with respect to every symbol (matrices and the scalars s, t),
``mc.jacobian`` of vector-valued trees (row and column conventions, both layouts) and
``mc.hessian`` are compared with central finite differences by ``tests/numeric.py``.  Runs are derandomized; examples whose values leave
the safe domain (overflow, relu at its kink, a norm near 0) are assumed away.
"""
from __future__ import annotations

import numpy as np
import sympy
from hypothesis import HealthCheck, assume, given, note, reject, settings
from hypothesis import strategies as st
from sympy import Rational
from sympy.matrices.expressions import Identity, MatrixExpr, OneMatrix

import matcalc as mc
from matcalc.core.functions import Norm, Relu, Step
from numeric import check_gradient, check_hessian, check_jacobian, evaluate, infer_dims, random_values

PROPERTY_SETTINGS = settings(
    derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
TOLERANCE = 1e-5
HESSIAN_TOLERANCE = 1e-4
SIZES = ({"n": 3, "m": 2}, {"n": 2, "m": 4})
SEEDS = (0, 1)

n, m = mc.dim("n"), mc.dim("m")
ONE = sympy.Integer(1)
DIMENSIONS = (n, m, ONE)
SCALARS = (mc.scalar("s"), mc.scalar("t"))   # scalar variables


def _label(d):
    return "1" if d == ONE else str(d)


def leaf(letter, rows, cols):
    """The symbol named by its letter and shape, e.g. P_nm (n×m) or Q_1n (1×n)."""
    return mc.matrix(f"{letter}_{_label(rows)}{_label(cols)}", rows, cols)


# ------------------------------------------------------------------ safe elementwise maps

def _one_minus(e):
    return OneMatrix(*e.shape) - e


_D = sympy.Dummy("d")

ELEMENTWISE = {
    "exp": mc.exp,
    "tanh": mc.tanh,
    "sigmoid": mc.sigmoid,
    "relu": mc.relu,
    "log exp": lambda e: mc.log(mc.exp(e)),
    "sqrt exp": lambda e: mc.sqrt(mc.exp(e)),
    "log sigmoid": lambda e: mc.log(mc.sigmoid(e)),
    "log one minus sigmoid": lambda e: mc.log(_one_minus(mc.sigmoid(e))),
    "softplus": lambda e: mc.log(OneMatrix(*e.shape) + mc.exp(e)),
    "square": lambda e: mc.power(e, 2),
    "cube": lambda e: mc.power(e, 3),
    "step gate": lambda e: mc.hadamard(mc.step(e), e),
    "sin": mc.sin,
    "cos": mc.cos,
    "tan of a half tanh": lambda e: mc.tan(mc.tanh(e) / 2),
    "arcsin of a half tanh": lambda e: mc.arcsin(mc.tanh(e) / 2),
    "arccos of a half tanh": lambda e: mc.arccos(mc.tanh(e) / 2),
    "arctan": mc.arctan,
    "sinh of tanh": lambda e: mc.sinh(mc.tanh(e)),
    "cosh of tanh": lambda e: mc.cosh(mc.tanh(e)),
    "abs": mc.abs,
    "sign gate": lambda e: mc.hadamard(mc.sign(e), e),
    "softplus node": mc.softplus,
    "log1p exp": lambda e: mc.log1p(mc.exp(e)),
    "expm1 of tanh": lambda e: mc.expm1(mc.tanh(e)),
    "erf": mc.erf,
    "gelu": mc.gelu,
    "logsigmoid": mc.logsigmoid,
    "maximum with tanh": lambda e: mc.maximum(e, mc.tanh(e) / 2),
    "minimum with tanh": lambda e: mc.minimum(mc.tanh(e) / 2, e),
    "applied cubic": lambda e: e.applyfunc(sympy.Lambda(_D, _D ** 3 / 3 - _D)),
}


# ------------------------------------------------------------------ scalar-valued trees

@st.composite
def matrices(draw, shape, depth):
    """A random matrix expression of the given (rows, cols)."""
    rows, cols = shape
    options = ["leaf"]
    if depth > 0:
        options += ["matmul", "matmul", "add", "subtract", "transpose", "hadamard", "elementwise",
                    "elementwise", "softmax", "scale", "scalar coefficient", "broadcast", "scalar variable"]
        if rows == cols:
            options += ["inverse", "square", "diag"]
        if cols == ONE or rows == ONE:
            options += ["logsumexp"]
    kind = draw(st.sampled_from(options))
    sub = depth - 1
    if kind == "leaf":
        return leaf(draw(st.sampled_from("PQ")), rows, cols)
    if kind == "matmul":
        inner = draw(st.sampled_from(DIMENSIONS))
        return draw(matrices((rows, inner), sub)) * draw(matrices((inner, cols), sub))
    if kind == "add":
        return draw(matrices(shape, sub)) + draw(matrices(shape, sub))
    if kind == "subtract":
        return draw(matrices(shape, sub)) - draw(matrices(shape, sub))
    if kind == "transpose":
        return draw(matrices((cols, rows), sub)).T
    if kind == "hadamard":
        return mc.hadamard(draw(matrices(shape, sub)), draw(matrices(shape, sub)))
    if kind == "elementwise":
        name = draw(st.sampled_from(sorted(ELEMENTWISE)))
        return ELEMENTWISE[name](draw(matrices(shape, sub)))
    if kind == "softmax":
        return mc.softmax(draw(matrices(shape, sub)), axis=draw(st.sampled_from((0, 1))))
    if kind == "scale":
        coefficient = draw(st.sampled_from((Rational(1, 2), Rational(-3, 2), Rational(2), Rational(-1))))
        return coefficient * draw(matrices(shape, sub))
    if kind == "scalar coefficient":
        return draw(scalars(sub)) * draw(matrices(shape, sub))
    if kind == "scalar variable":   # s M, or s + M (s broadcast over every entry)
        variable = draw(st.sampled_from(SCALARS))
        if draw(st.booleans()):
            return variable * draw(matrices(shape, sub))
        return variable + draw(matrices(shape, sub))
    if kind == "broadcast":
        if draw(st.booleans()):
            return OneMatrix(rows, 1) * draw(matrices((ONE, cols), sub))   # 1 b: a row over every row
        return draw(matrices((rows, ONE), sub)) * OneMatrix(1, cols)
    if kind == "inverse":
        # well conditioned whatever the values: eigenvalues within 0.1·size of 2
        return mc.inv(2 * Identity(rows) + Rational(1, 10) * mc.tanh(draw(matrices(shape, sub))))
    if kind == "square":
        return draw(matrices(shape, sub)) ** 2
    if kind == "diag":
        vector_shape = draw(st.sampled_from(((rows, ONE), (ONE, rows))))
        return mc.diag(draw(matrices(vector_shape, sub)))
    if kind == "logsumexp":
        inner = draw(st.sampled_from(DIMENSIONS))
        if cols == ONE:
            return mc.logsumexp(draw(matrices((rows, inner), sub)), axis=1)
        return mc.logsumexp(draw(matrices((inner, cols), sub)), axis=0)
    raise AssertionError(kind)


@st.composite
def scalars(draw, depth):
    """A scalar made from a matrix expression: sum, trace, norm, or scalar algebra on those."""
    shape = (draw(st.sampled_from(DIMENSIONS)), draw(st.sampled_from(DIMENSIONS)))
    kind = draw(st.sampled_from(["sum", "norm", "trace", "product", "power", "max", "min", "norm1", "variable"]
                                if depth > 0 else ["sum", "norm", "variable"]))
    if kind == "variable":   # s, or s times a scalar of the tree
        variable = draw(st.sampled_from(SCALARS))
        return variable if depth == 0 else variable * draw(scalars(depth - 1))
    if kind == "trace":
        square = draw(st.sampled_from(DIMENSIONS))
        return mc.trace(draw(matrices((square, square), max(depth - 1, 0))))
    if kind == "product":
        return draw(scalars(depth - 1)) * draw(scalars(depth - 1)) / 4
    if kind == "power":
        return (1 + draw(scalars(depth - 1)) ** 2) ** Rational(1, 2)
    expression = draw(matrices(shape, max(depth - 1, 0)))
    reduce = {"sum": mc.sum, "norm": mc.norm, "max": mc.max, "min": mc.min, "norm1": lambda e: mc.norm(e, 1)}
    return reduce[kind](expression)


@st.composite
def losses(draw, max_depth=4):
    """A scalar loss: a reduction of a random matrix tree."""
    depth = draw(st.integers(2, max_depth))
    shape = (draw(st.sampled_from(DIMENSIONS)), draw(st.sampled_from(DIMENSIONS)))
    expression = draw(matrices(shape, depth))
    rows, cols = shape
    kind = draw(st.sampled_from(["sum", "norm", "bilinear", "weighted", "trace", "scalar"]))
    if kind == "trace" and rows == cols:
        return mc.trace(expression)
    if kind == "norm":
        return mc.norm(expression)
    if kind == "bilinear":   # a 1×1 matrix loss uᵀ E w
        return leaf("u", ONE, rows) * expression * leaf("w", cols, ONE)
    if kind == "weighted":
        return mc.sum(mc.hadamard(leaf("C", rows, cols), expression))
    if kind == "scalar":
        return mc.sum(expression) + draw(scalars(1))
    return mc.sum(expression)


# ------------------------------------------------------------------ guards

def matrix_symbols(expr):
    return sorted({s for s in sympy.preorder_traversal(expr) if isinstance(s, sympy.MatrixSymbol)},
                  key=lambda s: s.name)


def assume_safe(expr, values, function=None):
    """Assume away values outside the numeric domain: overflow, huge losses, relu at its
    kink and norms near zero (not differentiable there).  Dimensions come from
    ``function`` (a derivative may not mention every dimension symbol's array)."""
    dims = infer_dims(function if function is not None else expr, values)
    with np.errstate(all="ignore"):
        value = np.asarray(evaluate(expr, values, dims), dtype=float)
        assume(np.all(np.isfinite(value)) and np.max(np.abs(value)) < 1e4)
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, Relu):
                assume(np.min(np.abs(evaluate(node.arg, values, dims))) > 1e-3)
            elif isinstance(node, Norm):
                assume(evaluate(node, values, dims) > 1e-2)


def assume_dimensions_known(expr):
    """numeric.py infers dimension sizes from the arrays; a dimension that only a ones
    matrix mentions (P_n1 1_{1×m}) has no array to be read from."""
    mentioned = {d for s in matrix_symbols(expr) for d in s.shape if isinstance(d, sympy.Symbol)}
    assume(expr.free_symbols - set(matrix_symbols(expr)) - set(SCALARS) <= mentioned | {ONE})


def _values(expr, sizes, seed):
    values = random_values(expr, sizes, seed)
    return {name: 0.7 * value for name, value in values.items()}   # keep nested exps tame


# Known bugs of the differentiator, each pinned by a strict xfail regression test in
# tests/test_rules.py (section "known bugs").  Examples that hit one are rejected here, so the
# property keeps checking everything else; delete an entry once its bug is fixed.
KNOWN_BUGS = [  # none open; the entries below were fixed and are kept as regression tests in test_rules.py
    # simplify._distribute_diagonal ↔ _factor recurse forever (Jacobian read-off)
    (RecursionError, ""),
    # simplify._common_scalar: sympy.factor_terms descends into ‖(PQ − P)/2‖'s argument
    (TypeError, "Mix of Matrix and Scalar symbols"),
]


def differentiate(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as error:
        for kind, message in KNOWN_BUGS:
            if isinstance(error, kind) and message in str(error):
                note(f"rejected: {type(error).__name__}: {error} (a known bug)")
                reject()
        raise


def _nonconstant(f):
    return [x for x in matrix_symbols(f) if f.has(x)] + [s for s in SCALARS if f.has(s)]


# ------------------------------------------------------------------ gradients

@settings(PROPERTY_SETTINGS, max_examples=250)
@given(losses())
def test_gradient_of_random_tree(f):
    note(f"f = {f}")
    assume_dimensions_known(f)
    variables = _nonconstant(f)
    assume(variables)
    checked = []
    for sizes in SIZES:
        values = _values(f, sizes, seed=0)
        assume_safe(f, values)
        checked.append(values)
    for x in variables:
        G = differentiate(mc.gradient, f, x)
        note(f"∂f/∂{x.name} = {G}")
        if isinstance(x, MatrixExpr):
            assert isinstance(G, MatrixExpr) and G.shape == x.shape
        else:
            assert not isinstance(G, MatrixExpr)
        for seed, values in enumerate(checked):
            assume_safe(G, values, f)
            error = check_gradient(f, x, G, values, seed=seed)
            assert error < TOLERANCE, (x, seed, error)


# ------------------------------------------------------------------ vector-valued trees

X_COLUMN = mc.matrix("x", "n", 1)


@st.composite
def vectors(draw, rows, depth):
    """A random column vector (rows × 1) that may depend on the column x (n × 1)."""
    options = ["leaf"]
    if depth > 0:
        options += ["linear", "linear", "add", "hadamard", "elementwise", "elementwise", "softmax",
                    "scale", "transposed product", "broadcast", "diag", "scalar factor"]
    kind = draw(st.sampled_from(options))
    sub = depth - 1
    if kind == "leaf":
        if rows == n and draw(st.integers(0, 3)) > 0:
            return X_COLUMN
        return leaf("c", rows, ONE)
    if kind == "linear":
        inner = draw(st.sampled_from((n, n, m, ONE)))   # n most often: x lives there
        return leaf(draw(st.sampled_from("AB")), rows, inner) * draw(vectors(inner, sub))
    if kind == "add":
        return draw(vectors(rows, sub)) + draw(vectors(rows, sub))
    if kind == "hadamard":
        return mc.hadamard(draw(vectors(rows, sub)), draw(vectors(rows, sub)))
    if kind == "elementwise":
        return ELEMENTWISE[draw(st.sampled_from(sorted(ELEMENTWISE)))](draw(vectors(rows, sub)))
    if kind == "softmax":
        return mc.softmax(draw(vectors(rows, sub)))
    if kind == "scale":
        return draw(st.sampled_from((Rational(1, 2), Rational(-2), Rational(3)))) * draw(vectors(rows, sub))
    if kind == "transposed product":   # (vᵀ B)ᵀ: a row times a matrix, transposed back
        inner = draw(st.sampled_from(DIMENSIONS))
        return (draw(vectors(inner, sub)).T * leaf("B", inner, rows)).T
    if kind == "broadcast":   # 1 (uᵀ v) or 1 logsumexp(v): a 1×1 value spread over a column
        inner = draw(st.sampled_from(DIMENSIONS))
        if draw(st.booleans()):
            return OneMatrix(rows, 1) * (leaf("u", inner, ONE).T * draw(vectors(inner, sub)))
        return OneMatrix(rows, 1) * mc.logsumexp(draw(vectors(inner, sub)))
    if kind == "diag":
        if draw(st.booleans()):
            return mc.diag(leaf("d", rows, ONE)) * draw(vectors(rows, sub))
        return mc.diag(draw(vectors(rows, sub))) * leaf("d", rows, ONE)
    if kind == "scalar factor":   # s(v′) v with s a norm, a sum or √(1 + ‖·‖²)
        inner = draw(vectors(draw(st.sampled_from(DIMENSIONS)), sub))
        scalar = draw(st.sampled_from((
            mc.norm(inner), mc.sum(inner) / 2, (1 + mc.norm(inner) ** 2) ** Rational(1, 2))))
        return scalar * draw(vectors(rows, sub))
    raise AssertionError(kind)


@st.composite
def vector_functions(draw):
    y = draw(vectors(draw(st.sampled_from(DIMENSIONS)), draw(st.integers(1, 3))))
    assume(y.has(X_COLUMN))
    return y


def as_row_function(y):
    """The same function in row convention: y(x)ᵀ with x a row (xᵀ in place of the column)."""
    x_row = mc.matrix("x", 1, "n")
    return y.xreplace({X_COLUMN: x_row.T}).T, x_row


def _length(expr):
    rows, cols = expr.shape
    return cols if rows == ONE else rows


@settings(PROPERTY_SETTINGS, max_examples=150)
@given(vector_functions(), st.sampled_from(["column", "row"]))
def test_jacobian_of_random_vector_function(y, convention):
    x = X_COLUMN
    if convention == "row":
        # known gap (strict xfails in tests/test_rules.py::test_jacobian_not_yet_supported):
        # scalar factors depending on x are read off for column vectors only
        assume(not any(isinstance(node, sympy.Expr) and not isinstance(node, MatrixExpr)
                       and node.has(X_COLUMN) for node in sympy.preorder_traversal(y)))
        y, x = as_row_function(y)
    note(f"y = {y}")
    assume_dimensions_known(y)
    for layout in ("numerator", "denominator"):
        J = differentiate(mc.jacobian, y, x, layout=layout)
        note(f"J ({layout}) = {J}")
        expected = (_length(y), _length(x))
        assert J.shape == (expected if layout == "numerator" else expected[::-1])
        for seed, sizes in enumerate(SIZES):
            values = _values(y, sizes, seed)
            assume_safe(y, values)
            error = check_jacobian(y, x, J, values, seed=seed, layout=layout)
            assert error < TOLERANCE, (layout, sizes, error)


# ------------------------------------------------------------------ Hessians

@st.composite
def twice_differentiable_losses(draw):
    """sum, uᵀ·, or ‖·‖² of a random vector function of x (relu and step excluded: their
    second derivative is 0 where the finite difference sees a kink)."""
    y = draw(vector_functions())
    assume(not any(isinstance(node, (Relu, Step)) for node in sympy.preorder_traversal(y)))
    kind = draw(st.sampled_from(["sum", "bilinear", "squared norm"]))
    if kind == "sum":
        return mc.sum(y)
    if kind == "bilinear":
        return leaf("u", y.shape[0], ONE).T * y
    return mc.norm(y) ** 2


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(twice_differentiable_losses())
def test_hessian_of_random_loss(f):
    note(f"f = {f}")
    assume_dimensions_known(f)
    H = differentiate(mc.hessian, f, X_COLUMN)
    note(f"H = {H}")
    assert H.shape == (n, n)
    for seed, sizes in enumerate(SIZES):
        values = _values(f, sizes, seed)
        assume_safe(f, values)
        error = check_hessian(f, X_COLUMN, H, values, seed=seed)
        assert error < HESSIAN_TOLERANCE, (sizes, error)
