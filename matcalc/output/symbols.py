r"""Symbol names as people write them: one rule for text (Unicode) and LaTeX.

:func:`typeset` reads a name the way a textbook writes it:

- a Greek word, whole or as the stem of the name, is the letter: ``lam``, ``lambda`` →
  λ / ``\lambda``; ``eps`` → ε; ``Sigma`` → Σ; ``mu_hat1`` → μ̂₁ / ``\hat{\mu}_{1}``;
- trailing digits and ``_k`` are subscripts: ``W1`` → W₁ / ``W_{1}``, ``x_k`` → x_k / ``x_{k}``
  (Unicode subscripts for digits, ``_k`` otherwise, as people type them);
- ``hat``, ``bar`` and ``tilde`` suffixes are accents: ``Yhat``, ``y_hat`` → Ŷ, ŷ / ``\hat{Y}``;
- a name of three or more letters that is none of these is a word, upright in LaTeX:
  ``loss`` → ``\mathrm{loss}``; two letters stay a compound symbol, ``dv`` (as SymPy and
  most papers write them);
- a name that is LaTeX already (a backslash or a brace: ``\hat{Y}``, ``Z_{1}``,
  ``z^{[1]}``) is kept in LaTeX and read into Unicode for text (Ŷ, Z₁, z^[1]).

Anything else keeps its literal spelling.  Two distinct names must never print alike, so
:func:`spellings` gives every name of a set that would print like another one (``lam``
and ``λ``, ``W1`` and ``W_1``) its literal spelling instead: ``lam`` / ``\mathrm{lam}``.
The printers of :mod:`.text` and :mod:`.latex` both ask this module; it knows nothing
about expressions beyond the names of their symbols.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy.matrices.expressions.matexpr import MatrixSymbol

from ..core.walk import nodes

__all__ = ["Spelling", "typeset", "literal", "spellings", "spellings_of"]


@dataclass(frozen=True)
class Spelling:
    """How a name prints: ``text`` (Unicode) and LaTeX as a ``base`` (what bold applies
    to), an optional subscript ``sub`` and superscript ``sup``."""
    text: str
    base: str
    sub: str = ""
    sup: str = ""

    def latex(self, bold: bool = False) -> str:
        """The LaTeX; ``bold`` sets the base in ``\\boldsymbol``."""
        out = r"\boldsymbol{%s}" % self.base if bold else self.base
        if self.sub:
            out += "_{%s}" % self.sub
        if self.sup:
            out += "^{%s}" % self.sup
        return out


# ---------------------------------------------------------------- letters

_LOWER = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
          "sigma tau upsilon phi chi psi omega").split()
_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
_ALIASES = {"lam": "lambda", "Lam": "Lambda", "eps": "epsilon"}


def _greek_letter(word: str) -> str:
    """``lambda`` → λ, ``Sigma`` → Σ (from the Unicode name of the letter)."""
    case = "CAPITAL" if word[0].isupper() else "SMALL"
    return unicodedata.lookup(f"GREEK {case} LETTER {word.upper().replace('LAMBDA', 'LAMDA')}")


# word → (Unicode letter, LaTeX command)
GREEK = {word: (_greek_letter(word), "\\" + word) for word in _LOWER + _UPPER}
GREEK.update({alias: GREEK[word] for alias, word in _ALIASES.items()})
_LETTER_LATEX = {letter: tex for letter, tex in GREEK.values()}
_LETTER_LATEX["ϵ"], _LETTER_LATEX["ϕ"], _LETTER_LATEX["ℓ"] = r"\epsilon", r"\phi", r"\ell"

_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}   # combining characters
_SUBSCRIPTS = str.maketrans("0123456789+-−=()", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎")
_SUPERSCRIPTS = str.maketrans("0123456789+-−=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾")
_SCRIPTABLE = set("0123456789+-−=()")
_RAISED = set("ᵀ′")


def _accented(text: str, accent: str) -> str:
    """``Y`` + hat → Ŷ (one precomposed character where Unicode has one)."""
    return unicodedata.normalize("NFC", text + _ACCENTS[accent]) if accent else text


def _script_text(text: str, sign: str, table) -> str:
    """A subscript (``sign`` "_") or superscript ("^") in Unicode where every character
    has one (digits, signs, parentheses), else as people type it: ``_k``, ``_{ij}``."""
    if text and set(text) <= _SCRIPTABLE:
        return text.translate(table)
    if text and sign == "^" and set(text) <= _RAISED:   # Wᵀ, W′: raised already
        return text
    return sign + text


# ---------------------------------------------------------------- names

_STEM = "[A-Za-z]+?|[Ͱ-Ͽ]"
_ACCENT = "hat|bar|tilde"
_NAME = re.compile(
    rf"(?P<stem>{_STEM})"
    rf"(?:_?(?P<accent>{_ACCENT}))?"
    rf"(?:_?(?P<digits>\d+)|_(?P<word>[A-Za-z][A-Za-z0-9]*))?"
    rf"(?:_?(?P<accent2>{_ACCENT}))?"
    rf"(?:\^(?P<sup>[A-Za-z0-9]+))?")


def _stem(stem: str) -> tuple[str, str] | None:
    """(text, LaTeX) of a name's stem: a letter, a Greek letter or word, or None."""
    if stem in GREEK:
        return GREEK[stem]
    if len(stem) == 1 and stem.isascii():
        return stem, stem
    if stem in _LETTER_LATEX:
        return stem, _LETTER_LATEX[stem]
    return None


def _parse(name: str) -> Spelling | None:
    """The textbook spelling of a name that follows the pattern, else None."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    if match["accent"] and match["accent2"]:
        return None
    stem = _stem(match["stem"])
    accent = match["accent"] or match["accent2"]
    if stem is None:
        if accent or not match["stem"].isascii():
            return None
        word = match["stem"]   # two letters are a compound symbol (dv); more, a word (loss)
        stem = (word, word if len(word) == 2 else r"\mathrm{%s}" % word)
    text, base = stem
    if accent:
        text, base = _accented(text, accent), r"\%s{%s}" % (accent, base)
    sub = match["digits"] or match["word"] or ""
    if sub in GREEK:
        text, sub = text + "_" + GREEK[sub][0], GREEK[sub][1]
    elif sub:
        text += _script_text(sub, "_", _SUBSCRIPTS)
    sup = match["sup"] or ""
    if sup:
        text += _script_text(sup, "^", _SUPERSCRIPTS)
    return Spelling(text, base, sub, sup)


def _is_latex(name: str) -> bool:
    return "\\" in name or "{" in name or "}" in name


@lru_cache(maxsize=4096)
def typeset(name: str) -> Spelling:
    """How ``name`` prints on its own (see the module's docstring)."""
    if _is_latex(name):
        return Spelling(latex_to_text(name), name)
    return _parse(name) or literal(name)


@lru_cache(maxsize=4096)
def literal(name: str) -> Spelling:
    """``name`` as it is spelt: the letter itself, a word set upright in LaTeX, or LaTeX
    that the user wrote (shown as written in text too)."""
    if _is_latex(name):
        return Spelling(name, name)
    if len(name) == 1:
        return Spelling(name, _LETTER_LATEX.get(name) or _escaped(name))
    if re.fullmatch(r"[A-Za-z0-9_]+", name):
        return Spelling(name, r"\mathrm{%s}" % name.replace("_", r"\_"))
    return Spelling(name, r"\text{%s}" % _escaped(name))


def _escaped(name: str) -> str:
    from .latex import escape_text   # the one escaper of user text (latex imports this module)
    return escape_text(name)


def spellings(names, reserved=()) -> dict:
    """{name: :class:`Spelling`} for the distinct ``names``: each typeset, except that names
    that would print like another one (in text or in LaTeX), or like a ``reserved``
    spelling (a constant's), keep their literal spelling."""
    chosen = {name: typeset(name) for name in dict.fromkeys(names)}
    while True:
        clashing = {name for name in _clashes(chosen, reserved) if chosen[name] != literal(name)}
        if not clashing:
            return chosen
        for name in clashing:
            chosen[name] = literal(name)


def _clashes(chosen: dict, reserved=()) -> set:
    """The names whose text or LaTeX is another name's or a reserved spelling's."""
    clashing = set()
    for key in (lambda s: s.text, lambda s: s.latex()):
        owners: dict = {key(s): [None] for s in reserved}
        for name, spelling in chosen.items():
            owners.setdefault(key(spelling), []).append(name)
        clashing.update(n for group in owners.values() if len(group) > 1 for n in group if n is not None)
    return clashing


_CONSTANTS = {sympy.pi: Spelling("π", r"\pi")}   # what the printers write for them


def spellings_of(exprs) -> dict:
    """:func:`spellings` of the names of every matrix and scalar symbol of ``exprs``
    (dimensions too; the bound variables of elementwise functions are not names), with the
    spellings of the constants in ``exprs`` (π) reserved."""
    names, constants = [], []
    for node in nodes(*exprs):
        if isinstance(node, (MatrixSymbol, sympy.Symbol)) and not isinstance(node, sympy.Dummy):
            names.append(str(node.name))
        elif node in _CONSTANTS:
            constants.append(_CONSTANTS[node])
    return spellings(names, constants)


# ---------------------------------------------------------------- LaTeX names in text

_FONTS = {"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "boldsymbol",
          "bm", "text", "textrm", "operatorname"}
_LATEX_ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar",
                  "tilde": "tilde", "widetilde": "tilde"}
_COMMANDS = {tex[1:]: letter for letter, tex in GREEK.values()}
_COMMANDS.update({"varepsilon": "ε", "varphi": "φ", "vartheta": "ϑ", "ell": "ℓ", "top": "ᵀ", "prime": "′"})


def latex_to_text(tex: str) -> str:
    r"""Unicode for a name written in LaTeX: ``\hat{Y}`` → Ŷ, ``Z_{1}`` → Z₁,
    ``v^{(1)}_{out}`` → v⁽¹⁾_out; a command it does not know is written as its name."""
    out, i = [], 0
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            command = re.match(r"\\([A-Za-z]+|.?)\s*", tex[i:])
            i += command.end()
            name = command[1]
            if name in _LATEX_ACCENTS or name in _FONTS:
                argument, i = _argument(tex, i)
                text = latex_to_text(argument)
                out.append(_accented(text, _LATEX_ACCENTS[name]) if name in _LATEX_ACCENTS else text)
            else:
                out.append(_COMMANDS.get(name, name))
        elif char in "_^":
            argument, i = _argument(tex, i + 1)
            text = latex_to_text(argument)
            out.append(_script_text(text, "_", _SUBSCRIPTS) if char == "_"
                       else _script_text(text, "^", _SUPERSCRIPTS))
        else:
            if char not in "{}":
                out.append(char)
            i += 1
    return "".join(out)


def _argument(tex: str, i: int) -> tuple[str, int]:
    """The argument of a command or script at ``tex[i:]``: a braced group or one token;
    returns it and the index after it."""
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
        return tex[i + 1:], len(tex)
    command = re.match(r"\\[A-Za-z]+", tex[i:])
    end = i + (command.end() if command else 1)
    return tex[i:end], end
