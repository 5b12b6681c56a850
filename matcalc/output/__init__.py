"""The outputs: plain text, LaTeX, HTML with MathML, and documents from templates.

Printers turn expressions into strings (one ``_print_<Class>`` per construct) and templates
arrange those strings; neither does any mathematics.  Importing this package registers
the presenters that :class:`~matcalc.calculus.derivation.Derivation` uses for ``str()``,
``to_latex()``, ``to_html()`` and Jupyter's displays.
"""
from ..calculus.derivation import PRESENTERS
from ..core import shapes
from .html import repr_html, to_html
from .render import repr_latex, repr_markdown, to_latex
from .text import derivation_repr, derivation_text, to_text

PRESENTERS.update(text=derivation_text, repr=derivation_repr, latex=to_latex, html=to_html,
                  repr_latex=repr_latex, repr_markdown=repr_markdown, repr_html=repr_html)
shapes.WRITE[0] = to_text
