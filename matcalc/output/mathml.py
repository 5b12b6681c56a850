"""LaTeX → MathML, so HTML pages and notebooks show mathematics with no network and no
JavaScript.

The conversion is :mod:`latex2mathml`'s; this module only adapts the few macros matcalc's
LaTeX printer writes that the converter does not know.  It does no mathematics.
"""
from __future__ import annotations

from latex2mathml.converter import convert

__all__ = ["to_mathml"]

_ADAPTED = {
    r"\mathrel{=:}": r"\mathrel{=}\mathrel{:}",
}


def to_mathml(tex: str, *, display: bool = False) -> str:
    """The MathML ``<math>`` element of one LaTeX formula (no ``$`` delimiters)."""
    for macro, replacement in _ADAPTED.items():
        tex = tex.replace(macro, replacement)
    return convert(tex, display="block" if display else "inline")
