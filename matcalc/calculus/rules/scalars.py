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


# ---------------------------------------------------------------- scalar functions f(a)

def _kink_free(expression):
    """A scalar derivative with the distributions of a kink replaced by 0: the derivative
    of sign, step and the Heaviside function is 0 almost everywhere (and matcalc's
    convention at the kink itself)."""
    return expression.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.S.Zero)


def _derivative(node, i=0):
    """∂f/∂(argument i) of a SymPy scalar function node, through SymPy's own ``fdiff``."""
    if isinstance(node, sympy.Abs):
        return sympy.sign(node.args[0])                      # |a|′ = sign(a)
    if isinstance(node, (sympy.sign, sympy.Heaviside)):
        return sympy.S.Zero                                  # flat away from the kink
    if isinstance(node, (sympy.Max, sympy.Min)):
        # ∂ max(a, b)/∂a = 1[a > b]: 0 at a tie, as relu′(0) = 0
        this = node.args[i]
        others = [a for j, a in enumerate(node.args) if j != i]
        pick = (lambda d: sympy.Heaviside(d, 0))
        compare = (lambda o: this - o) if isinstance(node, sympy.Max) else (lambda o: o - this)
        return sympy.Mul(*[pick(compare(o)) for o in others])
    return _kink_free(node.fdiff(i + 1))


def _function_name(cls):
    return f"chain rule through {cls.__name__}"


FUNCTIONS = (sympy.tanh, sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos, sympy.atan,
             sympy.sinh, sympy.cosh, sympy.asinh, sympy.acosh, sympy.atanh, sympy.erf,
             sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min)


@adjoint(FUNCTIONS, _function_name)
def function_adjoint(node, adj):
    """c = f(a₁, …)  ⇒  āᵢ = c̄ ∂f/∂aᵢ."""
    for i, argument in enumerate(node.args[:_arity(node)]):
        yield argument, mul(adj, _derivative(node, i))


@differential(FUNCTIONS, _function_name)
def function_differential(node, d):
    """d f(a₁, …) = Σᵢ ∂f/∂aᵢ daᵢ."""
    return add(*[mul(_derivative(node, i), d(a)) for i, a in enumerate(node.args[:_arity(node)])])


def _arity(node):
    # Heaviside(x, H0) carries its value at 0 as a second, constant argument
    return 1 if isinstance(node, sympy.Heaviside) else len(node.args)
