"""Elementwise functions: C = f(A) entry by entry.

One identity for all: dC = f′(A) ⊙ dA, so Ā = C̄ ⊙ f′(A).  ``DERIVATIVE`` gives f′ for each
function, through the output C where textbooks write it that way (σ′ = σ ⊙ (1 − σ)).

At a kink matcalc takes the one-sided value a textbook (and JAX) takes: relu′(0) = 0,
|·|′(0) = sign(0) = 0, sign′ = step′ = 0, and at a tie of maximum(A, B) or minimum(A, B)
each argument gets half.
"""
import sympy

from ...core.algebra import add, build, hadamard, mul, neg, one_minus, ones_like, power, reciprocal, sum_entries
from ...core import functions as F
from . import adjoint, differential

_HALF = sympy.Rational(1, 2)


def _gaussian(A):
    """φ(A)·√(2π) = exp(−½ A∘²), the unnormalised standard normal density."""
    return build(F.Exp, mul(-_HALF, power(A, 2)))


DERIVATIVE = {
    F.Exp: lambda C: C,                                            # exp′ = exp
    F.Log: lambda C: reciprocal(C.arg),                            # log′(a) = 1/a
    F.Tanh: lambda C: one_minus(hadamard(C, C)),                   # tanh′ = 1 − tanh²
    F.Sigmoid: lambda C: hadamard(C, one_minus(C)),                # σ′ = σ(1 − σ)
    F.Relu: lambda C: build(F.Step, C.arg),                        # relu′ = 1[a > 0], 0 at 0 by choice
    F.Sqrt: lambda C: mul(_HALF, reciprocal(C)),                   # √′ = 1/(2√a)
    F.Step: lambda C: None,                                        # step′ = 0 almost everywhere
    F.Sin: lambda C: build(F.Cos, C.arg),                          # sin′ = cos
    F.Cos: lambda C: neg(build(F.Sin, C.arg)),                     # cos′ = −sin
    F.Tan: lambda C: add(ones_like(C), hadamard(C, C)),            # tan′ = 1 + tan²
    F.Arcsin: lambda C: power(one_minus(power(C.arg, 2)), -_HALF),        # 1/√(1 − a²)
    F.Arccos: lambda C: neg(power(one_minus(power(C.arg, 2)), -_HALF)),   # −1/√(1 − a²)
    F.Arctan: lambda C: reciprocal(add(ones_like(C), power(C.arg, 2))),   # 1/(1 + a²)
    F.Sinh: lambda C: build(F.Cosh, C.arg),                        # sinh′ = cosh
    F.Cosh: lambda C: build(F.Sinh, C.arg),                        # cosh′ = sinh
    F.Absolute: lambda C: build(F.Sign, C.arg),                         # |a|′ = sign(a), 0 at 0
    F.Sign: lambda C: None,                                        # sign′ = 0 almost everywhere
    F.Softplus: lambda C: build(F.Sigmoid, C.arg),                 # softplus′ = σ
    F.Log1p: lambda C: reciprocal(add(ones_like(C), C.arg)),       # log1p′(a) = 1/(1 + a)
    F.Expm1: lambda C: build(F.Exp, C.arg),                        # expm1′ = exp
    F.Erf: lambda C: mul(2 / sympy.sqrt(sympy.pi), build(F.Exp, neg(power(C.arg, 2)))),  # (2/√π) e^(−a²)
    F.NormalCdf: lambda C: mul(1 / sympy.sqrt(2 * sympy.pi), _gaussian(C.arg)),  # Φ′ = φ
    F.Gelu: lambda C: add(build(F.NormalCdf, C.arg),                           # Φ(a) + a φ(a)
                          mul(1 / sympy.sqrt(2 * sympy.pi), hadamard(C.arg, _gaussian(C.arg)))),
}

SYMBOL = {F.Exp: "exp", F.Log: "log", F.Tanh: "tanh", F.Sigmoid: "σ", F.Relu: "relu", F.Sqrt: "√",
          F.Step: "step", F.NormalCdf: "Φ", F.Absolute: "|·|"}


def derivative(node):
    """f′(A) for C = f(A), as an expression (None when it is zero)."""
    return DERIVATIVE[type(node)](node)


def _name(cls):
    return f"chain rule through {SYMBOL.get(cls, cls.__name__.lower())}"


@adjoint(tuple(DERIVATIVE), _name)
def elementwise_adjoint(node: F.Elementwise, adj):
    """C = f(A)  ⇒  Ā = C̄ ⊙ f′(A)."""
    yield node.arg, hadamard(adj, derivative(node))


@differential(tuple(DERIVATIVE), _name)
def elementwise_differential(node: F.Elementwise, d):
    """d f(A) = f′(A) ⊙ dA."""
    return hadamard(derivative(node), d(node.arg))


# ---------------------------------------------------------------- maximum and minimum

def _weights(node):
    """(∂C/∂A, ∂C/∂B) entry by entry for C = maximum(A, B) or minimum(A, B):
    ½(1 ± sign(A − B)), so that a tie gives each argument half."""
    a, b = node.args
    s = build(F.Sign, add(a, neg(b)))
    ones = ones_like(node)
    larger, smaller = mul(_HALF, add(ones, s)), mul(_HALF, add(ones, neg(s)))
    return (larger, smaller) if isinstance(node, F.Maximum) else (smaller, larger)


@adjoint((F.Maximum, F.Minimum), lambda cls: f"chain rule through {cls.__name__.lower()}")
def extremum_adjoint(node, adj):
    """C = max(A, B)  ⇒  Ā = C̄ ⊙ ½(1 + sign(A − B)), B̄ = C̄ ⊙ ½(1 − sign(A − B)); min swaps them."""
    for argument, weight in zip(node.args, _weights(node)):
        yield argument, hadamard(adj, weight)


@differential((F.Maximum, F.Minimum), lambda cls: f"chain rule through {cls.__name__.lower()}")
def extremum_differential(node, d):
    """d max(A, B) = ½(1 + sign(A − B)) ⊙ dA + ½(1 − sign(A − B)) ⊙ dB."""
    return add(*[hadamard(w, d(a)) for a, w in zip(node.args, _weights(node))])


# ---------------------------------------------------------------- any scalar function, X.applyfunc(f)

def _applied_derivative(node, parameter=None):
    """f′ applied entrywise, from SymPy's scalar derivative of f (taken on a real variable,
    so that |d|′ = sign(d); the Dirac deltas of a jump count as 0, as everywhere in matcalc);
    with a ``parameter`` s of f's body (f(d) = sin(b d) has b), ∂f/∂s applied entrywise
    instead.  None when it is 0."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    from .scalars import _kink_free
    (d,), body = node.function.variables, node.function.expr
    t = sympy.Dummy("t", real=True)
    slope = _kink_free(sympy.diff(body.subs(d, t), t if parameter is None else parameter))
    if slope == 0:
        return None
    if t not in slope.free_symbols:
        return mul(slope, ones_like(node))
    return build(ElementwiseApplyFunction, sympy.Lambda(t, slope), node.expr)


def _parameters(node):
    """The scalar symbols of f's body other than its variable: the b of d ↦ sin(b d)."""
    (d,), body = node.function.variables, node.function.expr
    return sorted(body.free_symbols - {d}, key=sympy.default_sort_key)


def _register_applied():
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    @adjoint(ElementwiseApplyFunction, "chain rule through f (SymPy's derivative)")
    def applied_adjoint(node, adj):
        """C = f∘(A)  ⇒  Ā = C̄ ⊙ f′∘(A);  s̄ = sum(C̄ ⊙ (∂f/∂s)∘(A)) for a scalar s in f's body."""
        yield node.expr, hadamard(adj, _applied_derivative(node))
        for parameter in _parameters(node):
            yield parameter, sum_entries(hadamard(adj, _applied_derivative(node, parameter)))

    @differential(ElementwiseApplyFunction, "chain rule through f (SymPy's derivative)")
    def applied_differential(node, d):
        """d f∘(A) = f′∘(A) ⊙ dA + Σₛ (∂f/∂s)∘(A) ds."""
        changes = [(d(s), s) for s in _parameters(node)]
        return add(hadamard(_applied_derivative(node), d(node.expr)),
                   *[mul(ds, _applied_derivative(node, s)) for ds, s in changes if ds is not None])


_register_applied()
