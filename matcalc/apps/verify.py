"""Is this textbook formula right?  A symbolic and a numeric check of a claimed derivative.

``verify(f, wrt=X, expected=claimed)`` derives the gradient (Jacobian, Hessian, or the
stationary point) itself and compares it with the claim twice:

* **symbolically** — ``simplify(claimed − derived)`` is zero, or both sides simplify to the
  same expression;
* **numerically** — at random instances, one per set of concrete sizes (every symbolic
  dimension gets its own size, so a transposed formula cannot pass by accident), with
  arrays that respect each symbol's assumptions (symmetric, spd, positive, one-hot rows,
  binary entries in {0, 1}), in float64, with the relative error
  ``max|claimed − correct| / max(|claimed|, |correct|)`` against a stated tolerance.
  matcalc's own derivative is checked against fourth-order central differences of ``f`` at
  the same instances, so the verdict does not rest on the differentiator alone.

A claim *holds* only when the numeric check passes; the symbolic verdict is reported
beside it (the simplifier may fail to show an equality that holds).  When a claim fails,
the diagnosis says how: ``"wrong shape"``, ``"transposed"``, ``"off by a factor of c"``
(``c`` = 2, −1, 1/2, …: claimed = c × correct), ``"holds only for symmetric A"`` or
``"different"``, with a small counterexample.

Gradients with respect to a symmetric matrix come in two conventions, chosen by
``symmetric_convention`` and named in the output: ``"unconstrained"`` (every entry an
independent variable: the G that the rules give) and ``"symmetric"`` (the n(n+1)/2 free
entries are the variables: G + Gᵀ − G ⊙ I, Matrix Cookbook §2.8.2).

A :class:`VerificationResult` prints its report in matcalc's notation (``str``; ``repr`` is
one line) and shows in a notebook as HTML with the formulas in MathML (no network, no
JavaScript) or as Markdown with ``$…$``.  Numeric evaluation goes through
:func:`matcalc.compile`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from sympy import Basic
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatrixExpr, ZeroMatrix,
)
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol

from ..core import budget as _budget, functions
from ..backends.compile import compile as compile_expression
from ..calculus.derive import derive
from ..errors import ArgumentError, DifferentiationError, MatcalcError, ShapeError
from ..core.walk import atoms, dimensions, nodes, scalar_symbols
from ..calculus.simplify import simplify
from ..core.symbols import assumptions_of, matrix_symbols, shape_str
from ..output.text import to_text
from .verification import (  # noqa: F401  (the results are part of verify's interface)
    DIFFERENCE_TOLERANCE, Counterexample, Instance, VerificationResult,
)

__all__ = ["verify", "VerificationResult", "Counterexample", "Instance", "KINDS", "CONVENTIONS"]

KINDS = ("gradient", "jacobian", "hessian", "stationary")
CONVENTIONS = ("unconstrained", "symmetric")

_STEP = 1e-3
# Below this magnitude two values are compared absolutely (a zero gradient is zero).
_FLOOR = 1e-9
_INSTANCES = 3
DISAGREEMENT = ("matcalc's own derivative disagrees with central differences (a differentiator bug: please "
                "report it); the claim was compared with the central differences instead")
_MAX_TRIES = 8
# The most entries a random instance may have in one array (or, for a Jacobian or Hessian,
# in the matrix of derivatives the differences fill): the numeric check is meant for the
# small sizes it chooses itself, not for 10⁵ × 10⁵ matrices.
MAX_ENTRIES = 10 ** 6


# ---------------------------------------------------------------- inputs

def _matrix_symbols(*exprs):
    """Matrix symbols by name (the first one of each name)."""
    found = {}
    for symbol in matrix_symbols(*exprs):
        found.setdefault(symbol.name, symbol)
    return found


def _dimension_symbols(symbols, *exprs):
    dims = dimensions([*symbols.values(), *exprs])
    return sorted(dims, key=lambda d: d.name)


def _scalar_symbols(dims, *exprs):
    found = {}
    for s in scalar_symbols(exprs, set(dims)):
        found.setdefault(s.name, s)
    return found


def _domain_hints(*exprs):
    """Symbols that must be invertible (under an inverse or determinant) or positive
    (under a log, a square root, arcsin, arccos or a negative or fractional power)."""
    invertible, positive = set(), set()
    for node in nodes(*exprs):
        if isinstance(node, (Inverse, Determinant)):
            invertible |= {s.name for s in _matrix_symbols(node.args[0]).values()}
        elif isinstance(node, (functions.Log, functions.Sqrt, functions.Log1p, functions.Arcsin,
                               functions.Arccos)):
            # positive values are drawn from (0.1, 0.9): inside the domain of arcsin and arccos too
            positive |= _exposed_symbols(node.arg)
        elif isinstance(node, HadamardPower) and not (node.args[1].is_Integer and node.args[1] > 0):
            positive |= _exposed_symbols(node.args[0])
        elif isinstance(node, sympy.log) and not atoms([node.args[0]], Determinant):
            positive |= _exposed_symbols(node.args[0])
    return invertible, positive


# Functions whose value is in the domain of log whatever their argument: symbols inside
# them need no positive values (log σ(Z), log softmax(Z), log(1 − σ(Z))).
_SAFE_INSIDE = (functions.Sigmoid, functions.Softmax, functions.Exp, functions.LogSumExp, functions.Norm,
                functions.Softplus, functions.Cosh)


def _exposed_symbols(expr):
    """Names of the matrix symbols of ``expr`` that are not inside a _SAFE_INSIDE node."""
    names, seen, stack = set(), set(), [expr]
    while stack:
        node = stack.pop()
        if node in seen or isinstance(node, _SAFE_INSIDE) or not isinstance(node, Basic):
            continue
        seen.add(node)
        if isinstance(node, SympyMatrixSymbol):
            names.add(node.name)
        else:
            stack.extend(node.args)
    return names


def _size_choices(dims, sizes):
    """Candidate {dimension: size} assignments, distinct sizes per dimension."""
    if sizes is not None:
        choices = []
        for assignment in sizes:
            choices.append({d: int(assignment[d.name] if d.name in assignment else assignment[d])
                            for d in dims})
        return choices
    count = len(dims)
    base = list(range(2, 2 + count))
    orders = [base, [s + 1 for s in base], list(reversed(base)), [s + 2 for s in reversed(base)],
              base[1:] + base[:1], [s + 3 for s in base], [s + 1 for s in reversed(base)], [s + 4 for s in base]]
    seen, choices = set(), []
    for order in orders:
        key = tuple(order)
        if key in seen:
            continue
        seen.add(key)
        choices.append(dict(zip(dims, order)))
    return choices


def _random_value(symbol, shape, rng, invertible, positive, symmetric_only=()):
    """A random array in the symbol's declared range (one-hot rows, entries in {0, 1}, spd,
    positive, symmetric), invertible or positive where the function needs it to be."""
    flags = assumptions_of(symbol)
    rows, cols = shape
    name = symbol.name
    square = rows == cols and rows > 1
    symmetric = square and ("symmetric" in flags or name in symmetric_only)
    if "onehot" in flags:
        value = np.zeros(shape)
        value[np.arange(rows), rng.integers(0, cols, size=rows)] = 1.0
        return value
    if "binary" in flags:
        value = _binary_entries(shape, rng)
        # mirrored, not averaged: (B + Bᵀ)/2 would have entries ½
        return np.triu(value) + np.triu(value, 1).T if symmetric else value
    if "spd" in flags:
        m = rng.standard_normal(shape)
        return m @ m.T / rows + np.eye(rows)
    if "positive" in flags or name in positive:
        value = rng.uniform(0.1, 0.9, size=shape)
    else:
        value = rng.standard_normal(shape)
    if symmetric:
        value = (value + value.T) / 2
    if square and name in invertible:
        value = value + rows * np.eye(rows)
    return value


def _binary_entries(shape, rng):
    """Entries in {0, 1}, both present when there are two entries or more: labels all 0 or
    all 1 would hide a claim that mixes up y and 1 − y."""
    value = rng.integers(0, 2, size=shape).astype(float)
    if value.size > 1 and np.all(value == value.flat[0]):
        value.flat[rng.integers(value.size)] = 1.0 - value.flat[0]
    return value


def _instance_values(symbols, scalars, dims, rng, invertible, positive, symmetric_only=()):
    sizes = {d: dims[d] for d in dims}
    values = {}
    for name, symbol in sorted(symbols.items()):
        shape = tuple(int(_sympify(d).subs(sizes)) for d in symbol.shape)
        values[name] = _random_value(symbol, shape, rng, invertible, positive, symmetric_only)
    for name, s in sorted(scalars.items()):
        values[name] = float(rng.uniform(0.5, 1.5))
    return values


class _Evaluator:
    """A compiled expression called with the subset of arguments it takes."""

    def __init__(self, expr):
        self.expr = expr
        self.function = compile_expression(expr)
        carried = set()
        for s in _matrix_symbols(expr).values():
            for d in s.shape:
                carried |= {x.name for x in _sympify(d).free_symbols}
        self.names = set(self.function.inputs)
        self.free_dims = [d for d in self.function.dimensions if d not in carried]

    def __call__(self, values, sizes):
        kwargs = {name: values[name] for name in self.names}
        for d in self.free_dims:
            kwargs[d] = sizes[d]
        with np.errstate(all="ignore"):
            result = self.function(**kwargs)
        return np.asarray(result, dtype=float)


# ---------------------------------------------------------------- numerics

def _relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return math.inf
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if scale < _FLOOR:
        return 0.0
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


def _directions(wrt, values, convention):
    """(entry index, perturbation) pairs: single entries, or symmetric pairs."""
    shape = values[wrt.name].shape
    for i in range(shape[0]):
        for j in range(shape[1]):
            if convention == "symmetric":
                if j < i:
                    continue
                direction = np.zeros(shape)
                direction[i, j] = direction[j, i] = 1.0
                yield (i, j), direction
            else:
                direction = np.zeros(shape)
                direction[i, j] = 1.0
                yield (i, j), direction


def _central_difference(function, values, sizes, name, direction):
    """Fourth-order central difference of ``function`` along ``direction`` in ``name``."""
    base = values[name]

    def at(t):
        shifted = dict(values)
        shifted[name] = base + t * direction
        return function(shifted, sizes)

    h = _STEP * max(1.0, float(np.max(np.abs(base), initial=0.0)))
    return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)


def _difference_gradient(function, values, sizes, wrt, convention):
    shape = values[wrt.name].shape
    result = np.zeros(shape)
    for (i, j), direction in _directions(wrt, values, convention):
        value = float(np.asarray(_central_difference(function, values, sizes, wrt.name, direction)).reshape(-1)[0])
        result[i, j] = value
        if convention == "symmetric":
            result[j, i] = value
    return result


def _difference_jacobian(function, values, sizes, wrt):
    """Numerator layout: J[i, j] = ∂yᵢ/∂xⱼ with y and x flattened column by column (the vec
    layout of matrix Jacobians; for vectors, plain flattening)."""
    rows, cols = values[wrt.name].shape
    columns = {}
    for index, direction in _directions(wrt, values, "unconstrained"):
        difference = _central_difference(function, values, sizes, wrt.name, direction)
        columns[index] = np.asarray(difference).reshape(-1, order="F")
    return np.stack([columns[(i, j)] for j in range(cols) for i in range(rows)], axis=1)


# ---------------------------------------------------------------- the check

def _resolve(f, wrt, expected, shapes, declarations):
    from .parse import parse
    if isinstance(f, str):
        if shapes is None:
            raise ArgumentError("a function given as text needs shapes={name: (rows, cols), …}")
        f = parse(f, shapes, **declarations)
    symbols = _matrix_symbols(f)
    if isinstance(wrt, str):
        if wrt not in symbols:
            raise DifferentiationError(f"{wrt!r} does not occur in the function {to_text(f)}")
        wrt = symbols[wrt]
    claim_error = None
    if expected is None:
        raise ArgumentError("verify needs the claimed formula: expected=<expression, text or function>")
    if callable(expected) and not isinstance(expected, Basic):
        try:
            expected = expected()
        except (ShapeError, sympy.ShapeError) as exc:
            claim_error, expected = str(exc), None
    elif isinstance(expected, str):
        if shapes is None:
            raise ArgumentError("a claimed formula given as text needs shapes={name: (rows, cols), …}")
        try:
            expected = parse(expected, shapes, **declarations)
        except (ShapeError, sympy.ShapeError) as exc:
            claim_error, expected = str(exc), None
    elif not isinstance(expected, Basic):
        try:
            expected = sympy.sympify(expected, strict=True)  # a number; text never gets here
        except sympy.SympifyError:
            raise ArgumentError(f"the claimed result must be an expression, text or a number, "
                                f"not {type(expected).__name__}") from None
    return f, wrt, expected, claim_error


def _is_symmetric(symbol) -> bool:
    return bool(assumptions_of(symbol) & {"symmetric", "spd"})


def _symmetrise(G, n):
    """G + Gᵀ − G ⊙ I: the gradient over the free entries of a symmetric matrix."""
    return simplify(G + G.T - HadamardProduct(G, Identity(n)))


def _shape(expr):
    return tuple(expr.shape) if isinstance(expr, MatrixExpr) else (1, 1)


def _symbolic_equal(expected, derived) -> bool:
    if _shape(expected) != _shape(derived):
        return False
    try:
        left, right = simplify(expected), simplify(derived)
        if left == right:
            return True
        if isinstance(left, MatrixExpr) != isinstance(right, MatrixExpr):
            return False
        difference = simplify(left - right)
    except (MatcalcError, TypeError, ValueError, AttributeError, sympy.ShapeError):
        return False
    if difference is None or difference == 0:
        return True
    return isinstance(difference, ZeroMatrix)


def _constant(values) -> Fraction | float | None:
    """A readable constant: a small fraction when the float is one."""
    if not math.isfinite(values):
        return None
    fraction = Fraction(values).limit_denominator(24)
    if abs(float(fraction) - values) <= 1e-6 * max(1.0, abs(values)):
        return fraction
    return values


def _factor_text(c) -> str:
    if isinstance(c, Fraction):
        return str(c.numerator) if c.denominator == 1 else f"{c.numerator}/{c.denominator}"
    return f"{c:.6g}"


def _best_factor(claimed_list, correct_list):
    """c minimising Σ‖claimed − c·correct‖² and the relative residual."""
    num = sum(float(np.sum(a * b)) for a, b in zip(claimed_list, correct_list))
    den = sum(float(np.sum(b * b)) for b in correct_list)
    if den == 0:
        return None, math.inf
    c = num / den
    error = max(_relative_error(a, c * b) for a, b in zip(claimed_list, correct_list))
    return c, error


@_budget.budgeted("verifying")
def verify(f, wrt, expected, *, kind="gradient", layout="numerator",
           symmetric_convention="unconstrained", tolerance=1e-6, seed=0, sizes=None,
           shapes=None, where=None, **declarations):
    """Check a claimed derivative of ``f`` with respect to ``wrt``.

    ``f``, ``expected``: matcalc expressions, or text read by :func:`matcalc.parse` with
    ``shapes`` (and ``symmetric=…``, ``spd=…``, ``positive=…``, ``onehot=…``, ``binary=…``,
    which the random instances respect: ``binary`` labels are 0 or 1); ``expected`` may also
    be a function that builds the claim (a claim whose shapes do not fit is reported as
    ``"wrong shape"``).  ``wrt``: the symbol, or its name.
    ``kind``: ``"gradient"`` (shaped like ``wrt``), ``"jacobian"`` (in ``layout``),
    ``"hessian"``, or ``"stationary"`` (the claimed solution of ∇f = 0, see
    :func:`matcalc.solve_stationary`).  ``symmetric_convention``: ``"unconstrained"`` or
    ``"symmetric"`` for a symmetric ``wrt``.  ``tolerance``: the largest relative error
    accepted.  ``seed``: the random instances.  ``sizes``: a list of
    ``{dimension name: size}`` to test at instead of the automatic choice.  ``where``: a
    dict of name → expression, substituted for symbols of the claim that abbreviate
    subexpressions (``{"R": yhat - y}``).

    Returns a :class:`VerificationResult`; ``result.ok`` is True only when the numeric
    check passes, and ``result.explain()`` says where the claim fails.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if symmetric_convention not in CONVENTIONS:
        raise ValueError(f"symmetric_convention must be 'unconstrained' or 'symmetric', not {symmetric_convention!r}")
    if isinstance(tolerance, bool) or not (isinstance(tolerance, (int, float)) and 0 < tolerance < math.inf):
        raise ArgumentError(f"tolerance must be a finite number above 0, not {tolerance!r}")
    if isinstance(seed, bool) or not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ArgumentError(f"seed must be an integer of at least 0, not {seed!r}")
    f, wrt, expected, claim_error = _resolve(f, wrt, expected, shapes, declarations)
    if where and expected is not None:
        symbols = _matrix_symbols(expected)
        expected = expected.xreplace({symbols[name]: value for name, value in where.items() if name in symbols})

    convention = symmetric_convention if (_is_symmetric(wrt) and kind == "gradient") else None
    derivation = None
    if kind == "stationary":
        from .solve import solve_stationary
        derived = solve_stationary(f, wrt)
    else:
        derivation = derive(f, wrt, kind=kind, layout=layout)
        derived = derivation.result
        if convention == "symmetric":
            derived = _symmetrise(derived, wrt.shape[0])

    check = _NumericCheck(f, wrt, kind, layout, convention, derived, expected, seed, sizes)
    result = VerificationResult(
        ok=False, diagnosis="different", symbolic_equal=None, max_rel_error=math.inf,
        tolerance=tolerance, function=f, wrt=wrt, kind=kind, layout=layout, convention=convention,
        expected=expected, derived=derived, derivation=derivation)

    extra = sorted(set(_matrix_symbols(expected)) - set(_matrix_symbols(f))) if expected is not None else []
    unknown = (f"; the claim uses {', '.join(extra)}, which the function does not contain" if extra else "")
    if expected is None:
        result.diagnosis = "wrong shape"
        result.detail = f"the claimed formula cannot be formed: {claim_error}"
        result.instances, result.derivation_error = check.reference_only()
        return result

    result.symbolic_equal = _symbolic_equal(expected, derived)
    want, got = _shape(derived), _shape(expected)
    if want != got:
        result.diagnosis = "wrong shape"
        result.detail = f"the claim is {shape_str(got)}, the {kind} is {shape_str(want)}{unknown}"
        if got == want[::-1]:
            transposed = check.compare(lambda e: e.T)
            result.instances, result.derivation_error = transposed.instances, transposed.derivation_error
            if transposed.error <= tolerance:
                result.detail += "; its transpose holds"
            else:
                c, residual = _best_factor([e.T for e in transposed.claimed], transposed.correct)
                if c is not None and residual <= tolerance and abs(c) > _FLOOR:
                    result.detail += f"; its transpose is off by a factor of {_factor_text(_constant(c))}"
        else:
            result.instances, result.derivation_error = check.reference_only()
        return result

    comparison = check.compare()
    result.instances = comparison.instances
    result.derivation_error = comparison.derivation_error
    result.max_rel_error = comparison.error
    if comparison.error <= tolerance:
        result.ok = True
        result.diagnosis = "holds"
        if not result.symbolic_equal:
            result.detail = "the numbers agree although the simplifier did not bring both sides to one form"
        if not result.derivation_agrees:
            result.detail = DISAGREEMENT
        return result

    result.counterexample = check.counterexample(tolerance)
    _diagnose_failure(result, comparison, check, want, unknown)
    if not result.derivation_agrees:
        result.detail = f"{result.detail}; {DISAGREEMENT}" if result.detail else DISAGREEMENT
    return result


def _diagnose_failure(result, comparison, check, want, unknown):
    """Say how a failing claim is wrong: transposed, a constant factor, right only for
    symmetric matrices, or simply different (in that order)."""
    tolerance = result.tolerance
    square = len(want) == 2 and want[0] == want[1] and want[0] != 1
    if square:
        transposed_error = max(_relative_error(e.T, c) for e, c in zip(comparison.claimed, comparison.correct))
        if transposed_error <= tolerance:
            result.diagnosis = "transposed"
            result.detail = "the transpose of the claim holds"
            return
    c, residual = _best_factor(comparison.claimed, comparison.correct)
    if c is not None and residual <= tolerance and abs(c) > _FLOOR and _constant(c) != 1:
        constant = _constant(c)
        result.factor = constant
        result.diagnosis = f"off by a factor of {_factor_text(constant)}"
        result.detail = f"claimed = {_factor_text(constant)} × correct"
        if constant == -1:
            result.detail += ": the sign is wrong (a gradient where the negative gradient is meant, or the reverse)"
        return
    if square:
        c, residual = _best_factor([e.T for e in comparison.claimed], comparison.correct)
        if c is not None and residual <= tolerance and abs(c) > _FLOOR:
            constant = _constant(c)
            result.factor = constant
            result.diagnosis = "different"
            result.detail = f"the transpose of the claim is off by a factor of {_factor_text(constant)}"
            return
    general = check.general_square_symbols()
    if general:
        symmetric = check.compare(symmetric_only=general)
        if symmetric.error <= tolerance:
            names = ", ".join(sorted(general))
            result.diagnosis = f"holds only for symmetric {names}"
            result.detail = (f"with symmetric {names} the claim holds (max relative error "
                             f"{symmetric.error:.2g}); for a general {names} it does not")
            return
    if comparison.error < 1e-3:
        result.detail = (f"close but not equal: a relative error of {comparison.error:.2g} is above the "
                         f"tolerance {tolerance:g}")
    result.detail = (result.detail + unknown) if result.detail else unknown[2:]


@dataclass
class _Comparison:
    instances: list
    claimed: list
    correct: list
    error: float
    derivation_error: float


class _NumericCheck:
    """Random instances of one verification, and the values of the claim and the truth."""

    def __init__(self, f, wrt, kind, layout, convention, derived, expected, seed, sizes):
        self.f, self.wrt, self.kind, self.layout = f, wrt, kind, layout
        self.convention = convention or "unconstrained"
        self.derived, self.expected = derived, expected
        self.seed = seed
        exprs = [f, derived, expected]
        self.symbols = _matrix_symbols(*exprs)
        self.dims = _dimension_symbols(self.symbols, *exprs)
        self.scalars = _scalar_symbols(set(self.dims), *exprs)
        self.invertible, self.positive = _domain_hints(*exprs)
        self.choices = _size_choices(self.dims, sizes)
        self.explicit_sizes = sizes is not None
        self._check_sizes()
        self._derived = _Evaluator(derived)
        self._expected = _Evaluator(expected) if expected is not None else None
        self._function = _Evaluator(f)
        self._gradient = None
        if kind in ("hessian", "stationary"):
            self._gradient = _Evaluator(derive(f, wrt, kind="gradient").result)

    def _check_sizes(self):
        """ArgumentError, before any array is drawn, for sizes too large to check numerically."""
        def entries(expr, sizes):
            rows, cols = (_sympify(d).subs(sizes) for d in getattr(expr, "shape", (1, 1)))
            return int(rows) * int(cols)

        for sizes in self.choices[:_MAX_TRIES]:
            for name, symbol in sorted(self.symbols.items()):
                count = entries(symbol, sizes)
                if count > MAX_ENTRIES:
                    rows, cols = (_sympify(d).subs(sizes) for d in symbol.shape)
                    raise ArgumentError(f"{name} is {rows}×{cols} here ({count:,} entries): more than the "
                                        f"{MAX_ENTRIES:,} a numeric check draws at random; verify the formula "
                                        f"at smaller sizes (a named dimension is tried at small sizes)")
            if self.kind in ("jacobian", "hessian"):
                filled = entries(self.wrt, sizes) * entries(self.wrt if self.kind == "hessian" else self.f, sizes)
                if filled > MAX_ENTRIES:
                    raise ArgumentError(f"the {self.kind} has {filled:,} entries at these sizes: more than the "
                                        f"{MAX_ENTRIES:,} a numeric check fills by differences; verify the "
                                        f"formula at smaller sizes")

    # -- values

    def _values(self, sizes, index, symmetric_only=()):
        rng = np.random.default_rng([self.seed, index])
        return _instance_values(self.symbols, self.scalars, sizes, rng, self.invertible, self.positive,
                                symmetric_only)

    def _named(self, sizes):
        return {d.name: v for d, v in sizes.items()}

    def truth(self, values, named):
        """(matcalc's value, the correct value, their relative gap).

        The correct value is matcalc's own when it agrees with the independent numeric
        reference (central differences of f; for a Hessian, differences of differences), and
        the reference itself when it does not, so a differentiator bug cannot make a wrong
        claim pass.  A stationary point is checked by the gradient vanishing there.
        """
        derived = self._derived(values, named)
        if self.kind == "stationary":
            at_solution = dict(values)
            at_solution[self.wrt.name] = np.asarray(derived).reshape(values[self.wrt.name].shape)
            residual = self._gradient(at_solution, named)
            scale = max(np.max(np.abs(self._gradient(values, named))), 1.0)
            return derived, derived, float(np.max(np.abs(residual)) / scale)
        if self.kind == "gradient":
            reference = _difference_gradient(self._function, values, named, self.wrt, self.convention)
        elif self.kind == "jacobian":
            reference = _difference_jacobian(self._function, values, named, self.wrt)
            if self.layout == "denominator":
                reference = reference.T
        else:  # hessian: the Jacobian of the difference gradient
            def difference_gradient(vals, sizes):
                return _difference_gradient(self._function, vals, sizes, self.wrt, "unconstrained")
            reference = _difference_jacobian(difference_gradient, values, named, self.wrt)
        reference = np.asarray(reference, dtype=float).reshape(np.shape(derived))
        gap = _relative_error(derived, reference)
        return derived, (derived if gap <= DIFFERENCE_TOLERANCE else reference), gap

    def _instances(self, symmetric_only=()):
        """Yield (sizes, values, correct value, gap) for up to three usable instances."""
        found = 0
        for index, sizes in enumerate(self.choices[:_MAX_TRIES]):
            values = self._values(sizes, index, symmetric_only)
            named = self._named(sizes)
            try:
                derived, correct, gap = self.truth(values, named)
            except (np.linalg.LinAlgError, ArgumentError):
                continue
            # outside the function's domain (a symmetric S with det S < 0 under log det S) the
            # differences are not finite either: such an instance says nothing about the claim
            if not (np.all(np.isfinite(derived)) and np.all(np.isfinite(correct))):
                continue
            yield named, values, correct, gap
            found += 1
            if found == _INSTANCES:
                return
        if not found:
            raise MatcalcError("no usable random instance: every one gave a non-finite derivative "
                               "(check the domain, or pass sizes=[…])")

    def reference_only(self):
        instances, worst = [], 0.0
        for named, _, _, gap in self._instances():
            instances.append(Instance(named, math.inf, gap))
            worst = max(worst, gap)
        return instances, worst

    def compare(self, transform=None, symmetric_only=()):
        instances, claimed_list, correct_list = [], [], []
        worst = gap_worst = 0.0
        for named, values, correct, gap in self._instances(symmetric_only):
            claimed = self._expected(values, named)
            if transform is not None:
                claimed = transform(claimed)
            claimed = np.asarray(claimed, dtype=float).reshape(np.shape(correct)) \
                if np.size(claimed) == np.size(correct) else claimed
            error = _relative_error(claimed, correct)
            instances.append(Instance(named, error, gap))
            claimed_list.append(np.asarray(claimed, dtype=float))
            correct_list.append(np.asarray(correct, dtype=float))
            worst, gap_worst = max(worst, error), max(gap_worst, gap)
        return _Comparison(instances, claimed_list, correct_list, worst, gap_worst)

    def general_square_symbols(self):
        """Square matrix symbols other than ``wrt`` with no symmetry assumption."""
        names = set()
        for name, s in self.symbols.items():
            if s == self.wrt or _is_symmetric(s) or "onehot" in assumptions_of(s):
                continue
            if s.shape[0] == s.shape[1] and s.shape[0] != 1:
                names.add(name)
        return names

    def counterexample(self, tolerance):
        """The smallest failing instance, with inputs rounded to one or two decimals when it
        still fails there (rounding can make a matrix diagonal, where a transposition hides)."""
        for named, values, _, _ in self._instances():
            candidates = [{k: np.round(v, digits) if isinstance(v, np.ndarray) else round(v, digits)
                           for k, v in values.items()} for digits in (1, 2)] + [values]
            for inputs in candidates:
                try:
                    _, correct, _ = self.truth(inputs, named)
                    claimed = self._expected(inputs, named)
                except (np.linalg.LinAlgError, ArgumentError):
                    continue
                error = _relative_error(np.asarray(claimed).reshape(np.shape(correct)), correct)
                if error > tolerance and np.all(np.isfinite(correct)):
                    shown = {k: v for k, v in inputs.items()
                             if k in self._expected.names | self._derived.names | self._function.names}
                    symbols = {**self.symbols, **self.scalars}
                    return Counterexample(named, shown, claimed, correct, error,
                                          {name: symbols[name] for name in shown})
        return None

