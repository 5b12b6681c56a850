"""Elementwise functions: C = f(A) entry by entry.

One identity for all: dC = f′(A) ⊙ dA, so Ā = C̄ ⊙ f′(A).  ``DERIVATIVE`` gives f′ for each
function, through the output C where textbooks write it that way (σ′ = σ ⊙ (1 − σ)).
"""
from ...core.algebra import hadamard, mul, one_minus, reciprocal
from ...core.functions import Elementwise, Exp, Log, Relu, Sigmoid, Sqrt, Step, Tanh
from . import adjoint, differential

DERIVATIVE = {
    Exp: lambda C: C,                                         # exp′ = exp
    Log: lambda C: reciprocal(C.arg),                         # log′(a) = 1/a
    Tanh: lambda C: one_minus(hadamard(C, C)),                # tanh′ = 1 − tanh²
    Sigmoid: lambda C: hadamard(C, one_minus(C)),             # σ′ = σ(1 − σ)
    Relu: lambda C: Step(C.arg),                              # relu′ = 1[a > 0], 0 at 0 by choice
    Sqrt: lambda C: mul(sympy_half(), reciprocal(C)),         # √′ = 1/(2√a)
    Step: lambda C: None,                                     # step′ = 0 almost everywhere
}

SYMBOL = {Exp: "exp", Log: "log", Tanh: "tanh", Sigmoid: "σ", Relu: "relu", Sqrt: "√", Step: "step"}


def sympy_half():
    import sympy
    return sympy.Rational(1, 2)


def derivative(node):
    """f′(A) for C = f(A), as an expression (None when it is zero)."""
    return DERIVATIVE[type(node)](node)


def _name(cls):
    return f"chain rule through {SYMBOL.get(cls, cls.__name__)}"


@adjoint(tuple(DERIVATIVE), _name)
def elementwise_adjoint(node: Elementwise, adj):
    """C = f(A)  ⇒  Ā = C̄ ⊙ f′(A)."""
    yield node.arg, hadamard(adj, derivative(node))


@differential(tuple(DERIVATIVE), _name)
def elementwise_differential(node: Elementwise, d):
    """d f(A) = f′(A) ⊙ dA."""
    return hadamard(derivative(node), d(node.arg))
