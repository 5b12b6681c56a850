"""LaTeX → MathML (matcalc.output.mathml): every construct the LaTeX printer can write comes
out as well-formed MathML that MathML Core (what browsers render) can show.

Each formula is checked for what a broken conversion leaves behind: an <merror>, a LaTeX
command left in a token (``<mi>\\odot</mi>``), an element inside a token (latex2mathml's
``<mo><mrow>…</mrow></mo>`` for ``\\mathrel``), text that does not parse as XML, a
``mathvariant`` that browsers ignore (bold 1 shown as a plain 1).
"""
import xml.etree.ElementTree as ElementTree

import pytest
import sympy
from sympy import Identity, Inverse, OneMatrix, ZeroMatrix
from sympy.matrices.expressions import MatPow

import matcalc as mc
from matcalc.core import functions as F
from matcalc.core.kronecker import commutation, kron, vec
from matcalc.output.latex import MatcalcLatexPrinter, latex, partial, rule_text, shape_space
from matcalc.output.mathml import MathMLError, plain_text, to_mathml
from matcalc.output.render import present

NS = "{http://www.w3.org/1998/Math/MathML}"
TOKENS = {"mi", "mo", "mn", "mtext", "ms"}

n, N, K = mc.dim("n"), mc.dim("N"), mc.dim("K")
A, B = mc.matrix("A", "n", "n"), mc.matrix("B", "n", "n")
X, Y, Yhat = mc.matrix("X", "N", "n"), mc.matrix("Y", "N", "K"), mc.matrix("Yhat", "N", "K")
x, v = mc.rowvec("x", "n"), mc.colvec("v", "n")
lam = sympy.Symbol("lambda")


def parse(mathml):
    """The <math> element, or the test fails on text that is not XML."""
    math = ElementTree.fromstring(mathml)
    assert math.tag == NS + "math"
    return math


def problems(tex, **options):
    """What is wrong with the MathML of ``tex`` (an empty list when nothing is)."""
    math = parse(to_mathml(tex, **options))
    found = []
    for element in math.iter():
        tag = element.tag.removeprefix(NS)
        if tag == "merror":
            found.append("an <merror>")
        if tag in TOKENS:
            if len(element):
                found.append(f"<{tag}> holds elements")
            if "\\" in (element.text or ""):
                found.append(f"a LaTeX command left in <{tag}>{element.text}</{tag}>")
            if element.get("mathvariant") not in (None, "normal"):
                found.append(f"mathvariant={element.get('mathvariant')!r} on {element.text!r} (ignored by browsers)")
    annotations = [a for a in math.iter(NS + "annotation")]
    if [a.text for a in annotations] != [tex]:
        found.append("the annotation is not the LaTeX source")
    return found


def tokens(tex, tag):
    return [(e.text, dict(e.attrib)) for e in parse(to_mathml(tex)).iter(NS + tag)]


# ---------------------------------------------------------------- every printer method

def _samples():
    """Expressions that between them use every ``_print_*`` method of the LaTeX printer."""
    W1, b1 = mc.matrix("W1", "n", "K"), mc.rowvec("b1", "K")
    y = mc.colvec("y", "n")
    return [
        A.T, Inverse(A), Inverse(A).T, Inverse(A * B), MatPow(A, 2), mc.matrix("W^1", 2, 3).T,
        F.hadamard(Yhat, Y), F.power(Y, 2), F.power(Y, lam - 1), F.hadamard(Y, F.power(Yhat, -1)),
        Identity(n), ZeroMatrix(n, n), OneMatrix(N, 1), OneMatrix(1, N), OneMatrix(N, K),
        X * W1 + OneMatrix(N, 1) * b1, OneMatrix(N, K) - Yhat, (Yhat - Y) / N, -X * W1,
        F.trace(A * B), F.det(A), F.logdet(A), sympy.log(lam), F.diag(x), F.sigmoid(X / N),
        F.exp(X), F.log(X), F.tanh(X), F.relu(X), F.step(X), F.sqrt(X), F.softmax(X),
        F.softmax(X, axis=0), F.logsumexp(X), F.sum(Y), F.norm(v) ** 2, F.norm(v / N), mc.norm(y, 1),
        mc.norm(y / N, 1), -F.sum(F.hadamard(Y, F.log(Yhat))) / N, lam * A, mc.abs(y),
        mc.maximum(y, v), mc.minimum(y, v), mc.max(y), mc.min(y), mc.max(y * v.T, 1),
        mc.min(y * v.T, 0), mc.gradient(mc.max(y), y), mc.gradient(mc.min(y * v.T), y),
        F.ArgMax(y * v.T, 1), F.ArgMin(y * v.T, 0), mc.gelu(y), mc.sin(y), mc.softplus(y), mc.erf(y),
        sympy.Rational(851, 500) * y, sympy.Rational(1, 2) * y, sympy.pi * mc.sum(y), sympy.oo,
        kron(A, B), vec(A), commutation(n, N), lam * mc.sum(y) ** 2 / mc.sum(v),
        F.log(lam * A + Identity(n)), F.trace(A) * F.det(B),
    ]


def test_the_samples_use_every_printer_method(monkeypatch):
    """So that the MathML test below covers every construct the printer writes; a new
    ``_print_<Class>`` needs a sample here."""
    methods = sorted(name for name in vars(MatcalcLatexPrinter) if name.startswith("_print_"))
    called = set()

    def recording(name, method):
        def record(self, *args, **kwargs):
            called.add(name)
            return method(self, *args, **kwargs)
        return record

    for name in methods:
        monkeypatch.setattr(MatcalcLatexPrinter, name, recording(name, getattr(MatcalcLatexPrinter, name)))
    for expr in _samples():
        latex(expr)
        latex(expr, bold_vectors=True)
    assert sorted(set(methods) - called) == []


@pytest.mark.parametrize("bold", [False, True])
def test_every_printed_construct_converts_cleanly(bold):
    for expr in _samples():
        tex = latex(expr, bold_vectors=bold)
        assert problems(tex) == [], tex
        assert problems(tex, displaystyle=True) == [], tex


def test_every_elementwise_function_converts_cleanly():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    for node in subclasses(F.Elementwise):
        tex = latex(node(X))
        assert problems(tex) == [], tex


@pytest.mark.parametrize("tex", [
    partial("L", A), partial("L", X * A), partial("f", x, order=2), partial("f", v, order=2),
    shape_space((N, K)), shape_space(()), r"\mathrm{d}X^{\top}", r"\nabla^{2}_{X} L",
    r"\frac{\partial^{2} L}{\partial b^{2}}", r"\langle G, Y \rangle", r"Z_{1} \mathrel{=:} G_{1}",
    r"\operatorname{vec}(\mathrm{d}X) = J \operatorname{vec}(\mathrm{d}A)", r"\partial L / \partial (W_{1})_{ij}",
    r"\sum_{ij} G_{ij} Y_{ij}", r"\frac{1}{N} (\hat{Y} - Y) \in \mathbb{R}^{N \times K}",
    rule_text("chain rule through σ"), rule_text("sum of Xᵀ"), rule_text("α_1 & # {x} 50%"),
    rule_text("read off the Jacobian (vec layout)"), r"\mathcal{L}", r"\ell", r"\quad - \frac{1}{N} Y",
])
def test_document_notation_converts_cleanly(tex):
    """The pieces the documents add around printed expressions (render.py)."""
    assert problems(tex) == []


def _derivations():
    X, w, y, S = mc.matrix("X", "N", "n"), mc.colvec("w", "n"), mc.colvec("y", "N"), mc.matrix("S", "n", "n")
    b, G = mc.scalar("b"), mc.matrix("G", "N", 1)
    f = mc.sum(mc.hadamard(y, mc.log(mc.sigmoid(X * w))))
    return [
        mc.derive(f, [w]),
        mc.derive(f, w, kind="hessian"),
        mc.derive(X * w, w, kind="jacobian"),
        mc.derive(A * S * B, S, kind="jacobian"),
        mc.derive(mc.sigmoid(X * w + b), w, kind="vjp", cotangent=G),
        mc.derive(mc.sum(mc.exp(X * w * b)), b, kind="hessian"),
    ]


@pytest.mark.parametrize("derivation", _derivations(), ids=lambda d: d.kind)
def test_every_formula_of_a_document_converts_cleanly(derivation):
    """Every formula ``present`` writes for a document, rows and sentences alike."""
    document = present(derivation)
    formulas = [f[key] for f in document["forward"] for key in ("name", "expression")]
    formulas += [document["function"]["name"], document["function"]["expression"]]
    for section in document["sections"]:
        for row in section["rows"]:
            formulas += [row[key] for key in ("lhs", "rhs", "rule", "defines") if row[key]]
    formulas += [r[key] for r in document["results"] for key in ("lhs", "rhs", "space")]
    formulas += [w[key] for w in document["where"] for key in ("name", "expression")]
    sentences = [document["heading"], document["let"], document["layout"]] + [s["intro"] for s in document["sections"]]
    formulas += [span for sentence in sentences for span in sentence.split("$")[1::2]]
    assert len(formulas) > 10
    for tex in formulas:
        assert problems(tex) == [], tex


# ---------------------------------------------------------------- the adaptations, one by one

def test_bold_ones_and_bold_vectors_are_unicode_bold():
    """MathML Core ignores mathvariant="bold": 𝟏 (U+1D7CF) and 𝒙 (U+1D499) are the characters."""
    assert [text for text, _ in tokens(r"\mathbf{1}_{N} b", "mn")] == ["𝟏"]
    assert [text for text, _ in tokens(r"\boldsymbol{x}^{\top} A", "mi")] == ["𝒙", "A"]
    assert [text for text, _ in tokens(r"\mathbf{0}", "mn")] == ["𝟎"]


def test_the_differential_d_is_upright():
    assert tokens(r"\mathrm{d}X", "mi") == [("d", {"mathvariant": "normal"}), ("X", {})]


def test_operator_names_are_spaced_as_in_tex():
    """tr, det, log, softmax: a thin space before, none before the parenthesis."""
    for tex, name in [(r"\operatorname{tr}(A)", "tr"), (r"\det(A)", "det"), (r"\log(A)", "log"),
                      (r"\operatorname{softmax}_{\mathrm{col}}(Z)", "softmax")]:
        assert (name, {"lspace": "0.1667em", "rspace": "0", "stretchy": "false"}) in tokens(tex, "mo"), tex


def test_naming_is_one_equals_colon_operator():
    assert [text for text, _ in tokens(r"A \mathrel{=:} G", "mo")] == ["≕"]


def test_only_left_right_delimiters_stretch():
    """TeX stretches \\left( … \\right) only; a browser would stretch every ( and ⟨."""
    assert {text: attrs.get("stretchy") for text, attrs in tokens(r"\sigma\left(\frac{1}{N} X\right)", "mo")
            if text in "()"} == {"(": "true", ")": "true"}
    fences = [(text, attrs["stretchy"]) for text, attrs in tokens(r"\langle G, Y \rangle \lVert x\rVert (A)", "mo")
              if text != ","]
    assert fences == [("⟨", "false"), ("⟩", "false"), ("‖", "false"), ("‖", "false"),
                      ("(", "false"), (")", "false")]


def test_partial_and_slash_are_ordinary_symbols():
    spaces = {(text, attrs.get("lspace"), attrs.get("rspace"))
              for text, attrs in tokens(r"\partial L / \partial X", "mo")}
    assert spaces == {("∂", "0", "0"), ("/", "0", "0")}


def test_text_is_unescaped_and_keeps_its_spaces():
    """A rule name's \\text{…} holds LaTeX escapes; MathML would drop spaces at its ends."""
    assert tokens(rule_text("α_1 & #{x}% ~ a\\b"), "mtext") == \
        [("_1\u00a0&\u00a0#{x}%\u00a0~\u00a0a\\b", {})]
    assert tokens(r"\text{chain rule through }\sigma", "mtext") == [("chain\u00a0rule\u00a0through\u00a0", {})]


def test_text_cannot_make_elements():
    r"""The converter copies the text of \mbox and \textrm into the page as it is."""
    for tex, text in [(r"\text{<b>x</b>}", "<b>x</b>"), (r"\mbox{<script>1</script>}", "<script>1</script>"),
                      (r"\textrm{a & b}", "a\u00a0&\u00a0b")]:
        mathml = to_mathml(tex)
        math = parse(mathml)
        assert {e.tag.removeprefix(NS) for e in math.iter()} <= {"math", "semantics", "mrow", "mstyle", "mtext",
                                                                 "annotation"}
        assert [e.text for e in math.iter(NS + "mtext")] == [text]
        assert "<script" not in mathml and "<b>" not in mathml


@pytest.mark.parametrize("tex, message", [
    (r"\href{javascript:alert(1)}{x}", "attribute 'href'"),
    (r"A & B", "cannot convert"),
    (r"x^", "cannot convert"),
    (r"\left( x", "cannot convert"),
    (r"\text{x", "unclosed"),
])
def test_what_cannot_be_shown_is_a_clear_error(tex, message):
    with pytest.raises(MathMLError, match=message):
        to_mathml(tex)


def test_display_and_displaystyle():
    assert parse(to_mathml("x", display=True)).get("display") == "block"
    inline = parse(to_mathml(r"\frac{a}{b}", displaystyle=True))
    assert (inline.get("display"), inline.get("displaystyle")) == ("inline", "true")
    assert parse(to_mathml("x")).get("displaystyle") is None


def test_plain_text_undoes_escape_text():
    from matcalc.output.latex import escape_text
    for text in ["50% of x & y_1 # {z} ~ ^", "a\\b", "plain"]:
        assert plain_text(escape_text(text)) == text
