"""Names at the door: ``matrix``, ``scalar`` and ``dim`` accept a name only in the form
Python reads identifiers in (NFKC) and only as printable text, so two names matcalc accepts
are never one name to Python and no name can end a comment or a docstring."""
import string
import unicodedata

import pytest
import sympy
from hypothesis import given, settings, strategies as st

import matcalc as mc
from matcalc.core.symbols import MatrixSymbol

# pairs Python reads as one identifier: the second is the first's NFKC form
LOOKALIKES = [("ｎ", "n"), ("ｘ", "x"), ("ﬁ", "fi"), ("ｎｐ", "np"), ("µ", "μ"), ("ℓ", "l"), ("Ｘ１", "X1"),
              ("ｓｅｌｆ", "self"), ("ｆｌｏａｔ", "float"), ("ᵢ", "i"), ("ℌ", "H"), ("ｌａｍｂｄａ", "lambda")]

# unicode identifiers of one to four characters, from letters and digits of every script
identifiers = st.text(st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Pc"]),
                      min_size=1, max_size=4).filter(str.isidentifier)


@pytest.mark.parametrize("lookalike, normal", LOOKALIKES)
def test_a_name_not_in_normal_form_is_refused_naming_the_normal_form(lookalike, normal):
    assert unicodedata.normalize("NFKC", lookalike) == normal
    for make in (lambda: mc.matrix(lookalike, 1, 2), lambda: mc.rowvec(lookalike, 3),
                 lambda: mc.scalar(lookalike), lambda: mc.dim(lookalike), lambda: mc.matrix("A", lookalike, 1),
                 lambda: mc.dim(sympy.Symbol(lookalike))):
        with pytest.raises(mc.InvalidNameError, match=f"normal form.*write '{normal}'"):
            make()
    assert mc.matrix(normal, 1, 2).name == normal and mc.dim(normal).name == normal


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(identifiers, identifiers)
def test_two_names_the_door_accepts_are_one_name_only_when_equal(first, second):
    accepted = []
    for name in (first, second):
        if unicodedata.normalize("NFKC", name) != name:
            with pytest.raises(mc.InvalidNameError):
                mc.matrix(name, 1, 2)
            with pytest.raises(mc.InvalidNameError):
                mc.dim(name)
        else:
            assert mc.matrix(name, 1, 2).name == name and mc.scalar(name).name == name
            accepted.append(name)
    if len(accepted) == 2:
        same = unicodedata.normalize("NFKC", first) == unicodedata.normalize("NFKC", second)
        assert same == (first == second)


EVIL = ['n"""\nimport os; open("PWNED", "w")\n"""', "n\nm", "n\r", "n\x00", "n\u2028", "n\u0085", "n\u2029",
        "n\x0c", "", "n\ud800"]


@pytest.mark.parametrize("name", EVIL)
def test_names_that_are_not_printable_text_are_refused(name):
    for make in (lambda: mc.matrix(name, 1, 2), lambda: mc.scalar(name), lambda: mc.dim(name),
                 lambda: mc.matrix("A", sympy.Symbol(name) if name else name, 1)):
        with pytest.raises(mc.InvalidNameError):
            make()


def test_display_names_of_a_derivation_may_be_any_printable_text():
    """The class itself is also the display symbol of a derivation (Z₁ names XW in LaTeX):
    printable text, not necessarily in NFKC form; it never reaches generated code as text."""
    X, W = mc.matrix("X", "N", "d"), mc.matrix("W", "d", "h")
    tex = mc.to_latex(mc.derive(mc.sum(mc.sigmoid(X @ W)), W), names={X @ W: "Z₁"})
    assert "Z₁" in tex
    assert MatrixSymbol("Z₁", 2, 2).name == "Z₁"
    with pytest.raises(mc.InvalidNameError, match="printable"):
        MatrixSymbol("Z\n1", 2, 2)


def test_dim_checks_the_symbols_of_a_sympy_dimension():
    evil = sympy.Symbol('n"""\nimport os; open("PWNED", "w")\n"""')
    for value in (evil, evil + 1, 2 * evil):
        with pytest.raises(mc.InvalidNameError, match="printable"):
            mc.dim(value)
    with pytest.raises(mc.InvalidNameError, match="identifier"):
        mc.dim(sympy.Symbol("a b"))
    with pytest.raises(mc.ShapeError, match="at least 1"):
        mc.dim(sympy.Integer(0))
    n = sympy.Symbol("n", integer=True, positive=True)
    assert mc.dim(n) is n and mc.dim(n + 1) == n + 1


def test_printable_names_that_are_not_identifiers_are_still_symbol_names():
    for name in ("a b", "1x", "a-b", 'W"', "x\\y", "λ", "lambda", string.punctuation):
        assert mc.matrix(name, 1, 2).name == name
    with pytest.raises(mc.InvalidNameError, match="identifier"):
        mc.dim("a b")


def test_the_text_syntax_and_declare_refuse_names_not_in_normal_form():
    with pytest.raises(mc.ParseError, match="normal form.*write 'n'"):
        mc.parse("sum(A @ w) / n", {"A": ("n", "ｎ"), "w": ("ｎ", 1)})
    with pytest.raises(mc.ParseError, match="normal form.*write 'x'"):
        mc.parse("sum(x)", {"ｘ": (1, 2)})
    with pytest.raises(mc.ParseError, match="normal form"):
        mc.parse("sum(ｘ)", {"x": (1, 2)})


def test_the_binary_assumption_travels_with_the_symbol():
    """Labels in {0, 1} (binary cross-entropy) are declared like the other assumptions, and
    a binary y is not the general y."""
    y = mc.matrix("y", "n", 1, binary=True)
    assert y.assumptions == {"binary"} and y.is_assumed("binary")
    assert mc.colvec("y", "n", binary=True) == y
    assert y != mc.colvec("y", "n")
    with pytest.raises(ValueError, match="unknown assumption 'boolean'; known: .*onehot, binary"):
        MatrixSymbol("y", 2, 1, ["boolean"])
