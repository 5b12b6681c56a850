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


def adjoint_rule(node) -> Rule:
    return _lookup(node, ADJOINT, ADJOINT_PATTERNS, "reverse-mode")


def differential_rule(node) -> Rule:
    return _lookup(node, DIFFERENTIAL, DIFFERENTIAL_PATTERNS, "forward-mode")


# Importing the rule modules fills the tables.
from . import linear, products, elementwise, matrix_functions, losses, reductions, scalars  # noqa: E402,F401
