"""The derivative rule table.

Two tables, one entry per node class, one small function per entry:

* ``ADJOINT[cls]`` — reverse mode.  ``rule(node, adjoint)`` yields ``(child, contribution)``
  pairs: given C̄ = ∂L/∂C for the node C, the part of ∂L/∂child that flows through C.
  Reverse mode gives gradients of a scalar directly in matrix form.
* ``DIFFERENTIAL[cls]`` — forward mode.  ``rule(node, d)`` returns dC given ``d(child)``
  (``None`` for a child that does not depend on the variable).  Forward mode gives
  Jacobians, read off the differential.

Each rule's docstring states its identity.  Patterns that textbooks treat as one step, and
that are more stable fused (log σ, log softmax), are tried before the class table.
A node with no rule raises :class:`~matcalc.errors.DifferentiationError` naming its class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sympy import Identity, MatrixExpr, OneMatrix

from ...errors import DifferentiationError


@dataclass(frozen=True)
class Rule:
    name: str            # shown in derivations: "product rule", "chain rule through σ", …
    function: Callable


ADJOINT: dict[type, Rule] = {}
DIFFERENTIAL: dict[type, Rule] = {}
ADJOINT_PATTERNS: list[tuple[Callable, Rule]] = []
DIFFERENTIAL_PATTERNS: list[tuple[Callable, Rule]] = []


def adjoint(cls, name):
    """Register ``function(node, adjoint)`` as the reverse-mode rule of ``cls``."""
    def register(function):
        for klass in (cls if isinstance(cls, tuple) else (cls,)):
            ADJOINT[klass] = Rule(name if isinstance(name, str) else name(klass), function)
        return function
    return register


def differential(cls, name):
    """Register ``function(node, d)`` as the forward-mode rule of ``cls``."""
    def register(function):
        for klass in (cls if isinstance(cls, tuple) else (cls,)):
            DIFFERENTIAL[klass] = Rule(name if isinstance(name, str) else name(klass), function)
        return function
    return register


def adjoint_pattern(matches, name):
    """Register a fused reverse-mode rule for nodes where ``matches(node)`` holds."""
    def register(function):
        ADJOINT_PATTERNS.append((matches, Rule(name, function)))
        return function
    return register


def differential_pattern(matches, name):
    def register(function):
        DIFFERENTIAL_PATTERNS.append((matches, Rule(name, function)))
        return function
    return register


def _lookup(node, table, patterns, mode):
    for matches, rule in patterns:
        if matches(node):
            return rule
    for klass in type(node).__mro__:
        if klass in table:
            return table[klass]
    raise DifferentiationError(
        f"no {mode} derivative rule for {type(node).__name__} (in {node}); "
        f"matcalc does not know how to differentiate this construct")


BOOKKEEPING = frozenset({"sum rule", "constant factor", "sum of entries"})
"""Rules a textbook applies without a line of its own: passing a derivative through a sum,
a constant factor or the sum of a matrix's entries."""


def is_fused(node) -> bool:
    """Whether a fused pattern (log σ, log softmax, …) differentiates ``node`` in one step
    with the node below it: the step at ``node`` is then an inner step of that rule."""
    return any(matches(node) for matches, _ in ADJOINT_PATTERNS)


def source_name(rule: Rule, node, depends) -> str:
    """The name of ``rule`` applied at ``node``, as a derivation shows it: a product in
    which only one factor depends on the variables, the others being scalars that do not,
    is "constant factor" (c A, λ tr(…), −sum(…)/N), not the product rule."""
    if rule.name == "product rule" and _one_varying_factor(node, depends):
        return "constant factor"
    return rule.name


def _one_varying_factor(node, depends) -> bool:
    varying = [a for a in node.args if depends(a)]
    constant = [a for a in node.args if not depends(a)]
    return len(varying) == 1 and all(not isinstance(a, MatrixExpr) or _is_one(a) for a in constant)


def _is_one(a) -> bool:
    """A 1×1 matrix of ones or identity: the number 1 as a matrix."""
    return isinstance(a, (OneMatrix, Identity)) and a.shape == (1, 1)


def adjoint_rule(node) -> Rule:
    return _lookup(node, ADJOINT, ADJOINT_PATTERNS, "reverse-mode")


def differential_rule(node) -> Rule:
    return _lookup(node, DIFFERENTIAL, DIFFERENTIAL_PATTERNS, "forward-mode")


# Importing the rule modules fills the tables.
from . import linear, products, elementwise, matrix_functions, losses, reductions, scalars  # noqa: E402,F401
