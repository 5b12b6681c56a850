"""Bilinear nodes: matrix products, Hadamard products and powers.

One identity covers each: d(AB) = dA B + A dB (the product rule), whose adjoint is
Ā = C̄Bᵀ, B̄ = AᵀC̄; for an n-ary product every factor sees the product of the others.
Powers with a real or symbolic exponent p (entrywise, or of a 1×1 matrix, which is a
scalar) are the scalar power rule: d(aᵖ) = p aᵖ⁻¹ da + aᵖ log a dp.
"""
from sympy import HadamardProduct, MatMul
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matpow import MatPow

from ...core.algebra import add, build, hadamard, matrix_power, mul, sum_entries, transpose
from ...core.functions import Log
from ...errors import DifferentiationError
from . import adjoint, differential


def _split(node):
    coefficient, matrices = node.as_coeff_matrices()
    return coefficient, list(matrices)


@adjoint(MatMul, "product rule")
def matmul_adjoint(node, adj):
    """C = α A₁⋯Aₖ  ⇒  Āᵢ = α (A₁⋯Aᵢ₋₁)ᵀ C̄ (Aᵢ₊₁⋯Aₖ)ᵀ,  ᾱ = sum(C̄ ⊙ A₁⋯Aₖ)."""
    coefficient, matrices = _split(node)
    for i, factor in enumerate(matrices):
        left = [transpose(m) for m in reversed(matrices[:i])]
        right = [transpose(m) for m in reversed(matrices[i + 1:])]
        yield factor, mul(coefficient, *left, adj, *right)
    if coefficient != 1:
        yield coefficient, sum_entries(hadamard(adj, mul(*matrices)))


@differential(MatMul, "product rule")
def matmul_differential(node, d):
    """d(α A₁⋯Aₖ) = dα A₁⋯Aₖ + Σᵢ α A₁⋯dAᵢ⋯Aₖ."""
    coefficient, matrices = _split(node)
    terms = [mul(coefficient, *matrices[:i], d(factor), *matrices[i + 1:])
             for i, factor in enumerate(matrices)]
    if coefficient != 1:
        terms.append(mul(d(coefficient), *matrices))
    return add(*terms)


@adjoint(HadamardProduct, "Hadamard product rule")
def hadamard_adjoint(node, adj):
    """C = A ⊙ B  ⇒  Ā = C̄ ⊙ B, B̄ = C̄ ⊙ A."""
    factors = list(node.args)
    for i, factor in enumerate(factors):
        yield factor, hadamard(adj, *factors[:i], *factors[i + 1:])


@differential(HadamardProduct, "Hadamard product rule")
def hadamard_differential(node, d):
    """d(A ⊙ B) = dA ⊙ B + A ⊙ dB."""
    factors = list(node.args)
    return add(*[hadamard(*factors[:i], d(f), *factors[i + 1:]) for i, f in enumerate(factors)])


@adjoint(HadamardPower, "power rule")
def hadamard_power_adjoint(node, adj):
    """C = A^{∘p}  ⇒  Ā = C̄ ⊙ p A^{∘(p−1)};  p̄ = sum(C̄ ⊙ C ⊙ log A) for a scalar exponent p."""
    base, exponent = node.args
    yield base, hadamard(adj, mul(exponent, _power(base, exponent - 1)))
    if not exponent.is_number:
        yield exponent, sum_entries(hadamard(adj, node, build(Log, base)))


@differential(HadamardPower, "power rule")
def hadamard_power_differential(node, d):
    """d(A^{∘p}) = p A^{∘(p−1)} ⊙ dA + A^{∘p} ⊙ log A dp."""
    base, exponent = node.args
    terms = [hadamard(mul(exponent, _power(base, exponent - 1)), d(base))]
    if not exponent.is_number:
        terms.append(mul(d(exponent), hadamard(node, build(Log, base))))
    return add(*terms)


def _power(base, exponent):
    from ...core.algebra import ones_like
    if exponent == 0:
        return ones_like(base)
    if exponent == 1:
        return base
    return HadamardPower(base, exponent)


@adjoint(MatPow, "matrix power rule")
def matpow_adjoint(node, adj):
    """C = Aᵏ  ⇒  Ā = Σᵢ₌₀ᵏ⁻¹ (Aᵀ)ⁱ C̄ (Aᵀ)ᵏ⁻¹⁻ⁱ for k ≥ 1;
    C = A⁻ᵐ  ⇒  Ā = −Σᵢ₌₀ᵐ⁻¹ (Aᵀ)⁻⁽ⁱ⁺¹⁾ C̄ (Aᵀ)⁻⁽ᵐ⁻ⁱ⁾ for m ≥ 1;
    a 1×1 A to a real or symbolic p: the scalar power rule (:func:`scalar_power_adjoint`)."""
    if _is_scalar_power(node):
        yield from scalar_power_adjoint(node, adj)
        return
    base, k = _integer_power(node)
    At = transpose(base)
    if k > 0:
        yield base, add(*[mul(matrix_power(At, i), adj, matrix_power(At, k - 1 - i)) for i in range(k)])
    else:
        m = -k
        yield base, mul(-1, add(*[mul(matrix_power(At, -(i + 1)), adj, matrix_power(At, -(m - i)))
                                  for i in range(m)]))


@differential(MatPow, "matrix power rule")
def matpow_differential(node, d):
    """d(Aᵏ) = Σᵢ Aⁱ dA Aᵏ⁻¹⁻ⁱ for k ≥ 1;  d(A⁻ᵐ) = −Σᵢ A⁻⁽ⁱ⁺¹⁾ dA A⁻⁽ᵐ⁻ⁱ⁾;
    a 1×1 A to a real or symbolic p: d(Aᵖ) = p Aᵖ⁻¹ dA + Aᵖ log A dp."""
    if _is_scalar_power(node):
        base, p = node.args
        return add(mul(p, build(MatPow, base, p - 1), d(base)), mul(d(p), node, build(Log, base)))
    base, k = _integer_power(node)
    dA = d(base)
    if k > 0:
        return add(*[mul(matrix_power(base, i), dA, matrix_power(base, k - 1 - i)) for i in range(k)])
    m = -k
    return mul(-1, add(*[mul(matrix_power(base, -(i + 1)), dA, matrix_power(base, -(m - i)))
                         for i in range(m)]))


def _is_scalar_power(node):
    """A 1×1 matrix to a non-integer or symbolic exponent: a scalar power."""
    base, exponent = node.args
    return base.shape == (1, 1) and not exponent.is_Integer


def scalar_power_adjoint(node, adj):
    """C = Aᵖ for a 1×1 A  ⇒  Ā = C̄ p Aᵖ⁻¹,  p̄ = C̄ C log A."""
    base, p = node.args
    yield base, mul(adj, p, build(MatPow, base, p - 1))
    if not p.is_number:
        yield p, sum_entries(mul(adj, node, build(Log, base)))


def _integer_power(node):
    base, k = node.args
    if not (k.is_Integer and k != 0):
        raise DifferentiationError(
            f"matrix power {node}: a matrix has a rule for integer powers only (a non-integer or "
            f"symbolic power has one for a 1×1 matrix, a scalar); for entry-by-entry powers use mc.power")
    return base, int(k)
