"""Scalar nodes of SymPy: sums, products, powers, log and exp of scalar expressions
(log det X, ‖r‖², λ tr(…), 1/N …)."""
import sympy

from ...core.algebra import add, mul
from . import adjoint, differential


@adjoint(sympy.Add, "sum rule")
def add_adjoint(node, adj):
    """c = a + b  ⇒  ā = c̄, b̄ = c̄."""
    for term in node.args:
        yield term, adj


@differential(sympy.Add, "sum rule")
def add_differential(node, d):
    """d(a + b) = da + db."""
    return add(*[d(term) for term in node.args])


@adjoint(sympy.Mul, "product rule")
def mul_adjoint(node, adj):
    """c = a b  ⇒  ā = c̄ b, b̄ = c̄ a."""
    factors = node.args
    for i, factor in enumerate(factors):
        yield factor, mul(adj, *factors[:i], *factors[i + 1:])


@differential(sympy.Mul, "product rule")
def mul_differential(node, d):
    """d(a b) = da b + a db."""
    factors = node.args
    return add(*[mul(*factors[:i], d(f), *factors[i + 1:]) for i, f in enumerate(factors)])


@adjoint(sympy.Pow, "power rule")
def pow_adjoint(node, adj):
    """c = aᵖ  ⇒  ā = c̄ p aᵖ⁻¹;  p̄ = c̄ c log a."""
    base, exponent = node.args
    yield base, mul(adj, exponent, base ** (exponent - 1))
    yield exponent, mul(adj, node, sympy.log(base))


@differential(sympy.Pow, "power rule")
def pow_differential(node, d):
    """d(aᵖ) = p aᵖ⁻¹ da + aᵖ log a dp."""
    base, exponent = node.args
    return add(mul(exponent, base ** (exponent - 1), d(base)), mul(node, sympy.log(base), d(exponent)))


@adjoint(sympy.log, "chain rule through log")
def log_adjoint(node, adj):
    """c = log a  ⇒  ā = c̄ / a."""
    yield node.args[0], mul(adj, 1 / node.args[0])


@differential(sympy.log, "chain rule through log")
def log_differential(node, d):
    """d log a = da / a."""
    return mul(1 / node.args[0], d(node.args[0]))


@adjoint(sympy.exp, "chain rule through exp")
def exp_adjoint(node, adj):
    """c = exp a  ⇒  ā = c̄ c."""
    yield node.args[0], mul(adj, node)


@differential(sympy.exp, "chain rule through exp")
def exp_differential(node, d):
    """d exp a = exp(a) da."""
    return mul(node, d(node.args[0]))
