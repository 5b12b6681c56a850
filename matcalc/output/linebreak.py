"""Fitting LaTeX to the page: estimated widths and line breaks.

A derivation's right-hand sides can be wider than the page.  :func:`width` estimates the
printed width of LaTeX math from letter widths measured with pdflatex; :func:`latex_lines`
breaks an expression printed in breakable mode (see
:class:`~matcalc.output.latex.MatcalcLatexPrinter`) at its outermost operators first:
sums, then entrywise products, then between the factors of a product.  The renderer
arranges the lines; nothing here does mathematics.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

from sympy import Add, Mul
from sympy.matrices.expressions import HadamardProduct, KroneckerProduct, MatAdd, MatMul

from .latex import _ENTRYWISE, _PRODUCT, _SUM, latex, partial

__all__ = ["width", "latex_lines", "partial_lines", "narrowest", "narrowest_partial", "LINE_WIDTH",
           "TEXT_WIDTH", "QUAD"]

# ---------------------------------------------------------------- widths

# Widths in points of the article template's 11 pt Computer Modern, measured with pdflatex
# (\setbox0\hbox{$\displaystyle …$}): an estimate, a little on the wide side.
_ITALIC = dict(zip(string.ascii_letters, (
    5.8, 4.7, 4.8, 5.7, 5.1, 6.6, 5.7, 6.4, 3.8, 5.2, 6.1, 3.5, 9.7, 6.6, 5.4, 5.6, 5.3, 5.3, 5.2, 4.0,
    6.3, 5.7, 8.2, 6.3, 5.8, 5.6,
    8.3, 8.9, 8.7, 9.4, 8.8, 8.6, 8.7, 10.0, 5.7, 7.2, 10.1, 7.5, 11.9, 10.0, 8.7, 8.6, 8.7, 8.4, 7.4, 8.0,
    8.7, 8.9, 11.9, 10.0, 8.8, 8.3)))
_ROMAN = dict(zip(string.ascii_letters, (
    5.5, 6.1, 4.9, 6.1, 4.9, 4.2, 5.6, 6.1, 3.0, 3.3, 5.8, 3.0, 9.1, 6.1, 5.5, 6.1, 5.8, 4.3, 4.3, 4.3,
    6.1, 5.9, 8.1, 5.8, 5.9, 4.9,
    8.2, 7.8, 7.9, 8.4, 7.5, 7.1, 8.6, 8.2, 4.0, 5.6, 8.5, 6.8, 10.0, 8.2, 8.5, 7.5, 8.5, 8.1, 6.1, 7.9,
    8.2, 8.4, 11.4, 8.2, 8.5, 6.7)))
_DIGIT, _TEXT_SPACE = 5.5, 3.7
_BINARY, _RELATION, _OPERATOR, _DELIMITER = 13.3, 14.5, 8.6, 10.0  # \left( only around tall things
_SCRIPT = 0.72   # the size of a sub- or superscript, and of a fraction inside a fraction

_BINARIES = {r"\odot", r"\oslash", r"\otimes", r"\times", r"\cdot", r"\pm", r"\mp", r"\circ", "+", "-", "*"}
_RELATIONS = {r"\in", r"\leq", r"\geq", r"\neq", r"\to", r"\mapsto", r"\approx", r"\equiv", "=", "<", ">"}
_SPACES = {r"\quad": 11.0, r"\qquad": 22.0, r"\,": 1.9, r"\;": 3.1, r"\:": 2.5, r"\!": -1.9, "\\ ": 3.7}
_SYMBOLS = {r"\top": 9.8, r"\partial": 6.3, r"\nabla": 9.2, r"\infty": 11.0, r"\ell": 4.6, r"\lVert": 5.5,
            r"\rVert": 5.5, r"\|": 5.5, r"\langle": 4.3, r"\rangle": 4.3, r"\{": 5.5, r"\}": 5.5,
            r"\_": 5.5, r"\%": 9.2, r"\#": 9.2, r"\&": 8.6, r"\$": 5.5, r"\surd": 9.2, r"\ldots": 14.0,
            r"\cdots": 14.0}
_NAMED_OPERATORS = {r"\log", r"\exp", r"\det", r"\tanh", r"\sin", r"\cos", r"\max", r"\min", r"\ln",
                    r"\sinh", r"\cosh", r"\tan", r"\arctan"}
_SAME_WIDTH = {r"\hat", r"\bar", r"\tilde", r"\vec", r"\dot", r"\ddot", r"\widehat", r"\widetilde",
               r"\overline", r"\mathit", r"\mathcal", r"\mathnormal", r"\phantom", r"\hphantom",
               r"\ensuremath"}
_UPRIGHT = {r"\mathrm", r"\mathbb", r"\mathsf", r"\mathtt", r"\operatorname", r"\mathbf", r"\text",
            r"\textrm", r"\mbox", r"\textnormal"}
_BOLD = {r"\boldsymbol", r"\bm", r"\mathbf"}
_OPENERS = {"(", "[", ",", r"\left", r"\lVert", r"\langle", r"\mathrel", r"\mathbin"}
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)
_DISPLAY, _TEXT_STYLE, _SCRIPT_STYLE = 0, 1, 2


def width(tex: str) -> float:
    """The estimated width in points of LaTeX math ``tex`` typeset in display style in the
    article template (11 pt), to decide where to break lines; a little on the wide side."""
    return _Widths(_TOKEN.findall(tex)).group(1.0, _DISPLAY, False)


class _Widths:
    """A reader of LaTeX tokens that adds up their widths (see :func:`width`); ``scale`` is
    the font size relative to 11 pt, ``style`` display, text or script, ``upright`` set
    for roman letters (\\mathrm, \\operatorname, \\text)."""

    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def _next(self):
        token = self.tokens[self.i] if self.i < len(self.tokens) else "}"
        self.i += 1
        return token

    def _skip_spaces(self):
        while self.i < len(self.tokens) and self.tokens[self.i].isspace():
            self.i += 1

    def argument(self, scale, style, upright) -> float:
        """The width of the next argument: a braced group or one token."""
        self._skip_spaces()
        if self.i >= len(self.tokens):
            return 0.0
        token = self._next()
        return self.group(scale, style, upright) if token == "{" else self.token(token, scale, style, upright)

    def group(self, scale, style, upright) -> float:
        """The width up to the closing brace (or the end)."""
        total, script, operand_next = 0.0, None, True
        while self.i < len(self.tokens):
            token = self._next()
            if token == "}":
                break
            if token in ("^", "_"):   # a subscript and a superscript stack: the wider counts
                added = self.argument(scale * _SCRIPT, _SCRIPT_STYLE, upright) + 0.5 * scale
                total += added if script is None else max(0.0, added - script)
                script = added if script is None else None
                continue
            if token.isspace() and upright != "text":
                continue
            script = None
            if token in _BINARIES and operand_next and not upright:   # a sign, - x: no spacing
                total += scale * _OPERATOR
                continue
            total += self.token(token, scale, style, upright)
            operand_next = token in _BINARIES or token in _RELATIONS or token in _OPENERS
        return total

    def token(self, token, scale, style, upright) -> float:
        if token == "{":
            return self.group(scale, style, upright)
        if token in ("^", "_"):
            return self.argument(scale * _SCRIPT, _SCRIPT_STYLE, upright)
        if token.isspace():
            return scale * _TEXT_SPACE if upright == "text" else 0.0
        if token in ("&", "}", "$"):
            return 0.0
        if token.startswith("\\"):
            return self.command(token, scale, style, upright)
        return scale * _character(token, style, upright)

    def command(self, name, scale, style, upright) -> float:   # noqa: C901  (a table of cases)
        spaced = style < _SCRIPT_STYLE
        if name in (r"\frac", r"\dfrac", r"\tfrac"):
            inner_style = _TEXT_STYLE if style == _DISPLAY and name != r"\tfrac" else _SCRIPT_STYLE
            inner = scale if inner_style == _TEXT_STYLE else scale * _SCRIPT
            numerator = self.argument(inner, inner_style, upright)
            denominator = self.argument(inner, inner_style, upright)
            return max(numerator, denominator) + 2.4 * scale
        if name == r"\sqrt":
            return self.argument(scale, style, upright) + 11.0 * scale
        if name in (r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\big", r"\Big"):
            return scale * (1.2 if self._next() == "." else _DELIMITER)
        if name in _SAME_WIDTH:
            return self.argument(scale, style, upright)
        if name in _UPRIGHT:
            text = "text" if name.startswith((r"\text", r"\mbox")) else True
            return (1.15 if name in _BOLD else 1.0) * self.argument(scale, style, text)
        if name in _BOLD:
            return 1.15 * self.argument(scale, style, upright)
        if name in (r"\vphantom", r"\label"):
            self.argument(scale, style, upright)
            return 0.0
        if name in (r"\mathrel", r"\mathbin"):
            spacing = (_RELATION if name == r"\mathrel" else _BINARY) - _OPERATOR if spaced else 0.0
            return self.argument(scale, _SCRIPT_STYLE, upright) + scale * spacing   # spaced once
        if name in _BINARIES:
            return scale * (_BINARY if spaced else _OPERATOR)
        if name in _RELATIONS:
            return scale * (_RELATION if spaced else _OPERATOR)
        if name in _SPACES:
            return scale * _SPACES[name]
        if name in _SYMBOLS:
            return scale * _SYMBOLS[name]
        if name in _NAMED_OPERATORS:
            return scale * sum(_ROMAN[c] for c in name[1:])
        if name[1:].islower() and len(name) > 2:     # \alpha, \sigma, …
            return scale * 6.6
        return scale * 8.2                            # \Sigma, \Delta, anything else


def _character(char, style, upright) -> float:
    spaced = style < _SCRIPT_STYLE
    if upright == "text" and not char.isalnum():
        return 4.5
    if char in _BINARIES:
        return _BINARY if spaced else _OPERATOR
    if char in _RELATIONS:
        return _RELATION if spaced else _OPERATOR
    if char in "()[]":
        return 4.3
    if char.isdigit():
        return _DIGIT
    if char.isalpha():
        return (_ROMAN if upright else _ITALIC).get(char, 6.6)
    if char in ",;":
        return 5.0 if spaced else 3.1
    if char in ".|'!:":
        return 3.1
    return 8.6


# ---------------------------------------------------------------- line breaks

TEXT_WIDTH = 498.0
"""The points of math a line of the article template holds (its text is 500.5 pt wide): a
block of lines that :func:`width` finds narrower is left as it is."""
LINE_WIDTH = 480.0
"""The points of math a line that must be broken is fitted to: the text width less room for
the error of :func:`width` (a few percent)."""
QUAD = 11.0   # the indentation of a continuation line, \quad
_RANKS = {_SUM: 0, _ENTRYWISE: 1, _PRODUCT: 2}
_BINARY_START = ("+", "-", r"\odot", r"\oslash", r"\otimes")
_OPENING = {"(": ")", "[": "]", r"\lVert": r"\rVert"}


def latex_lines(expr, room: float, *, reserve: float = 0.0, **settings) -> list[str]:
    """The LaTeX of ``expr`` as lines each at most ``room`` points wide (by :func:`width`),
    the lines after the first ``QUAD`` narrower (they are indented) and the last one leaving
    ``reserve`` for what follows it.  Lines break where the expression's structure allows,
    best first: at the top-level terms of a sum (``+``, ``-``), then its entrywise factors
    (``\\odot``), then the factors of a product, and inside parentheses only where the
    level above has no break that fits.  A continuation line starts with its operator
    (``{} + B``); ``\\left(`` … ``\\right)`` split over lines is closed and reopened with
    ``\\right.`` and ``\\left.``, sized as the whole group by a ``\\vphantom``.  One line when
    the whole fits."""
    plain = latex(expr, **settings)
    if width(plain) + reserve <= room:
        return [plain]
    return _broken(latex(expr, breakable=True, **settings), room, reserve)


def partial_lines(numerator: str, target, room: float, **settings) -> list[str]:
    """``\\frac{\\partial L}{\\partial X}`` when it fits in ``room`` points, else the
    derivative written inline, ``\\partial L / \\partial (…)``, broken like
    :func:`latex_lines` (a fraction cannot be broken)."""
    whole = partial(numerator, target, **settings)
    if width(whole) <= room:
        return [whole]
    return _broken(_inline_partial(numerator, target, **settings), room, 0.0)


def _inline_partial(numerator, target, **settings) -> str:
    marked = latex(target, breakable=True, **settings)
    if isinstance(target, (MatAdd, MatMul, HadamardProduct, KroneckerProduct, Add, Mul)):
        marked = r"\left(%s\right)" % marked
    return r"\partial %s / \partial %s" % (numerator, marked)


def narrowest(expr, **settings) -> float:
    """The width of the widest piece of ``expr``'s LaTeX that no line break can split
    (:func:`latex_lines` cannot make its lines narrower), continuation indent included."""
    return _narrowest(latex(expr, breakable=True, **settings))


def narrowest_partial(numerator: str, target, **settings) -> float:
    """:func:`narrowest` for the derivative of :func:`partial_lines`."""
    return min(width(partial(numerator, target, **settings)),
               _narrowest(_inline_partial(numerator, target, **settings)))


def _narrowest(marked: str) -> float:
    plain, places, _ = _places(marked)
    stops = [0, *(p.position for p in places), len(plain)]
    return max(width("{}" + plain[a:b]) for a, b in zip(stops, stops[1:])) + (QUAD if places else 0.0)


@dataclass(frozen=True)
class _Place:
    """A place where a line may break: ``position`` in the text without marks, ``rank`` of
    the operator (0 sum, 1 entrywise, 2 product), ``depth`` of the delimiters around it and
    the ``\\left`` groups open there (indices into the groups)."""
    position: int
    rank: int
    depth: int
    groups: tuple


def _places(marked: str):
    """The text without its marks, the places where it may break (never inside braces:
    a fraction, a root, a script) and the ``\\left`` groups as (start, end) of their content."""
    plain, places, groups = [], [], []
    length, braces, open_delimiters, open_groups = 0, 0, [], []
    tokens = iter(re.findall(r"\\(?:left|right)(?![A-Za-z])|\\[A-Za-z]+|\\.|[\ue000-\ue002]|.", marked, re.S))
    for token in tokens:
        if token in _RANKS:
            if braces == 0:
                places.append(_Place(length, _RANKS[token], len(open_delimiters), tuple(open_groups)))
            continue
        if token in (r"\left", r"\right"):
            token += next(tokens, "")
            if token.startswith(r"\left"):
                open_delimiters.append(token)
                open_groups.append(len(groups))
                groups.append([length + len(token), None])
            elif open_groups:
                open_delimiters.pop()
                groups[open_groups.pop()][1] = length
        elif token in "{}":
            braces += 1 if token == "{" else -1
        elif braces == 0 and token in _OPENING:
            open_delimiters.append(token)
        elif braces == 0 and open_delimiters and token == _OPENING.get(open_delimiters[-1]):
            open_delimiters.pop()
        plain.append(token)
        length += len(token)
    return "".join(plain), places, [tuple(g) for g in groups]


def _broken(marked: str, room: float, reserve: float) -> list[str]:
    """``marked`` (printed in breakable mode) as lines: see :func:`latex_lines`."""
    plain, places, groups = _places(marked)
    start = _Place(0, 0, 0, ())
    end = _Place(len(plain), 0, 0, ())
    stops = [start, *places, end]
    # Widths add up across the places (they are outside every brace); "{}" keeps an
    # operator at the start of a piece binary, as it is in the whole.
    widths = [width("{}" + plain[a.position:b.position]) for a, b in zip(stops, stops[1:])]
    before = [0.0]
    for w in widths:
        before.append(before[-1] + w)
    lines, first = [], 0
    while True:
        available = room - (QUAD if lines else 0.0)
        if before[-1] - before[first] + reserve <= available:
            lines.append((stops[first], end))
            break
        last = _best_break(stops, before, first, available)
        if last is None:
            lines.append((stops[first], end))
            break
        lines.append((stops[first], stops[last]))
        first = last
    return [_line(plain, groups, a, b, continued=i > 0) for i, (a, b) in enumerate(lines)]


def _best_break(stops, before, first, available):
    """The index of the place to end a line that starts at ``stops[first]``: among those
    that fit, the shallowest and best-ranked, preferring lines at least a third full, the
    latest; the first place after the start if none fits; None if there is none."""
    fitting = [j for j in range(first + 1, len(stops) - 1) if before[j] - before[first] <= available]
    if not fitting:
        return first + 1 if first + 1 < len(stops) - 1 else None
    full = [j for j in fitting if before[j] - before[first] >= available / 3] or fitting
    return min(full, key=lambda j: (stops[j].depth, stops[j].rank, -j))


def _line(plain, groups, start, end, continued) -> str:
    """The text between two places, its ``\\left``/``\\right`` balanced."""
    text = plain[start.position:end.position].strip()
    if continued and text.startswith(_BINARY_START):
        text = "{}" + text          # still a binary operator at the start of a line
    common = 0
    while common < min(len(start.groups), len(end.groups)) and start.groups[common] == end.groups[common]:
        common += 1
    phantom = lambda g: r"\vphantom{%s}" % plain[groups[g][0]:groups[g][1]]  # noqa: E731
    closing = start.groups[common:]      # opened on an earlier line, closed on this one
    opening = end.groups[common:]        # opened on this line, closed on a later one
    return ("".join(r"\left.%s " % phantom(g) for g in closing) + text
            + "".join(r" %s\right." % phantom(g) for g in reversed(opening)))
