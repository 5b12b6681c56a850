"""LaTeX → MathML, so HTML pages and notebooks show mathematics with no network and no
JavaScript.

The conversion is :mod:`latex2mathml`'s; this module only adapts what it does with the
macros matcalc's LaTeX printer writes, in two tables and one pass over its output:

* before converting, :data:`_ADAPTED` rewrites the few macros it renders badly, and the
  contents of every ``\\text{…}`` (LaTeX-escaped: ``\\_``, ``\\&``, ``\\{``) are set aside,
  to be put back as plain text, because the converter reads their escapes as commands and
  copies other text into its output unescaped;
* after converting, :func:`_check` refuses anything but MathML elements and attributes,
  and :func:`_fix` makes the tree read in a browser (MathML Core) as it does in TeX: an
  operator name (``tr``, ``det``, ``softmax``) upright with TeX's thin space before it,
  ``∂`` and ``/`` with no space, only ``\\left … \\right`` delimiters stretchy, ``⟨ ⟩``
  operators, and bold letters and digits (``\\mathbf{1}``, ``\\boldsymbol{x}``) the Unicode
  mathematical characters, since MathML Core ignores ``mathvariant`` other than ``normal``.

Every ``<math>`` element carries its LaTeX source as an ``application/x-tex`` annotation,
which browsers do not show and copy-and-paste tools can use.  It does no mathematics.
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ElementTree

from latex2mathml import exceptions as _converter_exceptions
from latex2mathml.converter import convert

from ..core import budget
from ..errors import MatcalcError
from .latex import _TEXT_ESCAPES

__all__ = ["MathMLError", "to_mathml", "plain_text", "group_end", "MATHML_NAMESPACE"]

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"


class MathMLError(MatcalcError, ValueError):
    """A LaTeX formula the converter cannot read (the message quotes it)."""


_ADAPTED = {
    # latex2mathml puts an <mo> inside an <mo> for \mathrel; "=:" is one character, ≕.
    r"\mathrel{=:}": r"\eqqcolon",
}

# latex2mathml drops mathvariant="normal" from a one-letter \mathrm{d}, leaving an italic d;
# as an operator name it comes out as an upright identifier (see _fix).
_ONE_UPRIGHT_LETTER = re.compile(r"\\mathrm\{([A-Za-z])\}")

_CONVERTER_ERRORS = tuple(value for value in vars(_converter_exceptions).values()
                          if isinstance(value, type) and issubclass(value, Exception))

_UNESCAPED = {escaped: char for char, escaped in _TEXT_ESCAPES.items()}
_TEXT_ESCAPE = re.compile("|".join(re.escape(e) for e in sorted(_UNESCAPED, key=len, reverse=True)))

_PLACEHOLDER = "matcalctext%s"
_TEXT_COMMAND = re.compile(r"\\(?:text|textrm|textit|textbf|texttt|textsf|textnormal|mbox|hbox)\s*\{")


def plain_text(latex_text: str) -> str:
    """LaTeX text-mode text as escaped by :func:`~matcalc.output.latex.escape_text`
    (``a\\_b \\& c``), as the plain text it stands for (``a_b & c``)."""
    return _TEXT_ESCAPE.sub(lambda match: _UNESCAPED[match.group()], latex_text)


def group_end(tex: str, start: int) -> int:
    """The index just past the ``}`` that closes the group opening at ``tex[start] == "{"``
    (escaped braces ``\\{ \\}`` do not count), or -1 when it is never closed."""
    depth, i = 0, start
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _set_texts_aside(tex: str):
    r"""``tex`` with the contents of every ``\text{…}`` (and ``\mbox{…}``, ``\textrm{…}``
    …) replaced by a placeholder of letters, and the plain texts by placeholder."""
    out, texts, i = [], {}, 0
    for match in _TEXT_COMMAND.finditer(tex):
        if match.start() < i:   # inside the text of an earlier command
            continue
        brace = match.end() - 1
        end = group_end(tex, brace)
        if end < 0:
            raise MathMLError(f"an unclosed {match.group()} in {tex!r}")
        key = _PLACEHOLDER % _letters(len(texts))
        texts[key] = plain_text(tex[brace + 1:end - 1])
        out.append(tex[i:brace] + "{%s}" % key)
        i = end
    out.append(tex[i:])
    return "".join(out), texts


def _letters(number: int) -> str:
    """0 → "a", 25 → "z", 26 → "ba": a placeholder suffix the converter keeps as it is."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("a") + digit) + text
        if not number:
            return text


def to_mathml(tex: str, *, display: bool = False, displaystyle: bool = False) -> str:
    """The MathML ``<math>`` element of one LaTeX formula (no ``$`` delimiters): a block of
    its own with ``display=True``; in the line of text otherwise, with fractions and sums
    full size (as in a displayed equation) when ``displaystyle=True``.

    Raises :class:`MathMLError` for LaTeX the converter cannot read or turns into anything
    but MathML elements and attributes (``\\href``, a stray ``&``)."""
    budget.tick()   # a long document converts many formulas: its work budget's clock applies
    source = tex
    for macro, replacement in _ADAPTED.items():
        tex = tex.replace(macro, replacement)
    tex = _ONE_UPRIGHT_LETTER.sub(r"\\operatorname{\1}", tex)
    tex, texts = _set_texts_aside(tex)
    try:
        converted = convert(tex, display="block" if display else "inline")
        math = ElementTree.fromstring(converted)
    except (*_CONVERTER_ERRORS, ElementTree.ParseError) as error:
        raise MathMLError(f"cannot convert the LaTeX {source!r} to MathML "
                          f"({type(error).__name__}{': ' + str(error) if str(error) else ''})") from None
    for element in math.iter():
        element.tag = element.tag.rpartition("}")[2]   # the namespace is declared once, below
        _check(element, source)
        _fix(element, texts)
    _annotate(math, source)
    math.attrib = {"xmlns": MATHML_NAMESPACE, **math.attrib}
    if displaystyle:
        math.set("displaystyle", "true")
    return ElementTree.tostring(math, encoding="unicode")


# ---------------------------------------------------------------- checking and fixing the tree

# What the converter writes for the LaTeX matcalc prints; anything else (an <mrow href>, an
# element made of a \\mbox's raw "<b>") is refused rather than passed on to a page.
_ELEMENTS = frozenset(
    "math semantics annotation mrow mi mo mn mtext ms mspace msub msup msubsup mfrac msqrt "
    "mroot mover munder munderover mtable mtr mtd mstyle mpadded mphantom menclose merror "
    "mmultiscripts mprescripts none".split())
_ATTRIBUTES = frozenset(
    "display displaystyle scriptlevel stretchy fence form accent accentunder movablelimits "
    "mathvariant width height depth linethickness columnalign columnlines columnspacing rowspacing "
    "rowlines frame lspace rspace minsize maxsize symmetric largeop separator linebreak "
    "notation encoding".split())


def _check(element, source):
    """Refuse an element or attribute that is not in the tables above."""
    if element.tag not in _ELEMENTS:
        raise MathMLError(f"the LaTeX {source!r} makes a <{element.tag}> element, which is not MathML")
    unknown = sorted(set(element.attrib) - _ATTRIBUTES)
    if unknown:
        raise MathMLError(f"the LaTeX {source!r} makes a <{element.tag}> with the attribute "
                          f"{unknown[0]!r}, which matcalc does not write")


def _fix(element, texts):
    """One element of the converter's tree made to read as MathML Core shows it."""
    tag, text = element.tag, element.text or ""
    if tag == "mtext" and text in texts:
        # Spaces at the ends of a token are dropped by MathML; no-break spaces are kept.
        text = element.text = texts[text].replace(" ", "\u00a0")
    elif tag in ("mi", "mo") and len(text) > 1 and text.isalpha():
        # An operator name (tr, det, log, softmax) is spaced as TeX spaces \operatorname: a
        # thin space before it, none between it and its parenthesis (an unknown <mo> would
        # get thick spaces on both sides, an <mi> none).
        element.tag = "mo"
        element.attrib.pop("movablelimits", None)
        element.set("lspace", _THIN_SPACE)
        element.set("rspace", "0")
    elif tag == "mo" and len(text) == 1 and text.isalpha():   # \mathrm{d}, see _ONE_UPRIGHT_LETTER
        element.tag = "mi"
        element.set("mathvariant", "normal")
    elif tag == "mi" and len(text) == 1 and unicodedata.category(text)[0] == "P":
        element.tag = "mo"   # ⟨ and ⟩ are fences, and fences are operators
    elif tag == "mo" and text in _ORDINARY:
        element.set("lspace", "0")
        element.set("rspace", "0")
    if element.tag == "mo" and "stretchy" not in element.attrib:
        # TeX stretches only the delimiters of \left … \right (which the converter marks
        # stretchy="true"); a browser would stretch every (, ‖ and ⟨ to the height of the
        # row, and with a math font's larger variants they stand apart from what they enclose.
        element.set("stretchy", "false")
    variant = element.get("mathvariant")
    if variant in _STYLED and text:
        styled = _styled(text, _STYLED[variant])
        if styled is not None:
            element.text = styled
            del element.attrib["mathvariant"]


_THIN_SPACE = "0.1667em"

# Symbols TeX sets with no space around them (ordinary symbols: ∂L/∂X, ∇f), which a
# browser's operator dictionary would space as operators.
_ORDINARY = frozenset("/∂∇")

_STYLED = {"bold": "BOLD", "bold-italic": "BOLD ITALIC", "italic": "ITALIC"}


def _styled(text, style):
    """``text`` in the Unicode mathematical style (``1`` → ``𝟏``, ``x`` → ``𝒙``), or None
    when a character has no such form."""
    out = []
    for char in text:
        name = unicodedata.name(char, "")
        if name.startswith("DIGIT "):
            wanted = "MATHEMATICAL BOLD " + name if "BOLD" in style else ""   # no italic digits
        elif name.startswith(("LATIN ", "GREEK ")) and " LETTER " in name:
            # LATIN SMALL LETTER X → MATHEMATICAL BOLD ITALIC SMALL X
            wanted = "MATHEMATICAL %s %s" % (style, name.split(" ", 1)[1].replace("LETTER ", ""))
        else:
            return None
        try:
            out.append(unicodedata.lookup(wanted))
        except KeyError:   # e.g. italic h, which Unicode keeps elsewhere (ℎ)
            return None
    return "".join(out)


def _annotate(math, source):
    """``<math>`` → ``<math><semantics><mrow>…</mrow><annotation>source</annotation></semantics></math>``."""
    children = list(math)
    for child in children:
        math.remove(child)
    semantics = ElementTree.SubElement(math, "semantics")
    if len(children) == 1 and children[0].tag == "mrow":
        semantics.append(children[0])
    else:
        ElementTree.SubElement(semantics, "mrow").extend(children)
    annotation = ElementTree.SubElement(semantics, "annotation", encoding="application/x-tex")
    annotation.text = source
