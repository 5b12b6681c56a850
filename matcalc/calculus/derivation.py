"""A derivation as data: the steps and results of one differentiation.

:class:`Step` and :class:`Derivation` hold expressions and rule names, nothing else.  They do
not know how to print themselves: the output layer registers its presenters in
:data:`PRESENTERS` when it is imported (``import matcalc`` does), so this layer never
imports the one above it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sympy import Basic

PRESENTERS: dict[str, Callable] = {}
"""Presenters by format ("text", "repr", "latex", "html", "repr_latex", "repr_markdown",
"repr_html"), each ``presenter(derivation, **options) -> str``; filled in by
:mod:`matcalc.output`."""


@dataclass(frozen=True)
class Step:
    """One step of a derivation: the derivative of the function with respect to
    ``target`` (reverse mode), or the differential of ``target`` (forward mode), is
    ``after``; ``before`` is what the rule produced, before simplification.
    ``bookkeeping`` marks a step a textbook leaves out: one that only passes the derivative
    through a sum, a constant factor or a sum of entries, or an inner step of a fused rule
    (the ∂L/∂log Ŷ on the way to log-softmax's ∂L/∂Z)."""
    rule: str
    target: Basic
    before: Basic
    after: Basic
    bookkeeping: bool = False


@dataclass
class Derivation:
    """A derivative with the steps that produced it.

    ``kind`` is "gradient", "jacobian", "hessian" or "vjp" (a vector-Jacobian product, whose
    ``cotangent`` is the G of ∂⟨G, function⟩/∂X); ``results`` maps each variable to its
    derivative; ``result`` is that derivative (a tuple for several variables).
    """
    function: Basic
    wrt: tuple
    kind: str
    results: dict
    steps: list = field(default_factory=list)
    layout: str = "numerator"
    definitions: dict = field(default_factory=dict)
    cotangent: Basic = None

    @property
    def result(self):
        values = tuple(self.results[x] for x in self.wrt)
        return values[0] if len(values) == 1 else values

    def _present(self, form, **options):
        try:
            presenter = PRESENTERS[form]
        except KeyError:
            raise RuntimeError(f"no {form} presenter registered; import matcalc.output") from None
        return presenter(self, **options)

    def __str__(self):
        return self._present("text")

    def __repr__(self):
        return self._present("repr")

    def to_text(self, **options):
        """The derivation as text, as ``str()`` gives it, with options (``names``,
        ``function_name``; see :func:`matcalc.output.text.derivation_text`)."""
        return self._present("text", **options)

    def to_latex(self, **options):
        """The derivation as LaTeX (see :func:`matcalc.output.render.to_latex` for the options)."""
        return self._present("latex", **options)

    def to_html(self, **options):
        """The derivation as an HTML page with MathML, or with ``full=False`` a fragment (see
        :func:`matcalc.output.html.to_html` for the options)."""
        return self._present("html", **options)

    def _repr_latex_(self):
        return self._present("repr_latex")

    def _repr_markdown_(self):
        return self._present("repr_markdown")

    def _repr_html_(self):
        return self._present("repr_html")
