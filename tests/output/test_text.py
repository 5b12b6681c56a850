"""The text printer: symbol names as a textbook writes them, in Unicode.

Expected strings are written by hand: λ for ``lam``, subscript digits (W₁), accents (Ŷ),
and the literal names where two symbols would otherwise print alike.
"""
import sympy
from sympy import Inverse

import matcalc as mc
from matcalc.apps.seeds import mlp_two_layer
from matcalc.output.render import _sections, name_intermediates
from matcalc.output.symbols import spellings
from matcalc.output.text import to_text

n = mc.dim("n")
A, B = mc.matrix("A", "n", "n"), mc.matrix("B", "n", "n")
W1, x = mc.matrix("W1", "n", "n"), mc.colvec("x", "n")


def test_symbol_names_print_as_written_by_hand():
    lam = mc.scalar("lam")
    assert to_text(lam * W1.T * x) == "λ W₁ᵀ x"
    assert to_text(mc.matrix("Yhat", "n", "n") - A) == "Ŷ − A"
    Sigma2, mu_hat1 = mc.matrix("Sigma2", "n", "n"), mc.colvec("mu_hat1", "n")
    assert to_text(Inverse(Sigma2) * (x - mu_hat1)) == "Σ₂⁻¹ (x − μ̂₁)"
    assert to_text(mc.scalar("eps") * mc.matrix("x_k", "n", 1)) == "ε x_k"
    assert to_text(mc.matrix("loss", 1, 1)) == "loss"


def test_the_names_of_the_naming_pass_print_with_subscripts_and_accents():
    case = mlp_two_layer()
    d = mc.derive(case.function, list(case.wrt))
    steps = [(s.target, s.before, s.after) for mode, run, _ in _sections(d) if mode == "reverse"
             for s in run if s.rule != "gradient"]
    names = name_intermediates(d.function, steps, list(d.results.values()))
    assert [to_text(name.symbol) for name in names] == ["Z₁", "A₁", "Z₂", "Ŷ", "G₂", "G₁"]


def test_names_given_in_latex_read_as_text():
    assert to_text(mc.matrix(r"\hat{Y}", 2, 2).T) == "Ŷᵀ"
    assert to_text(mc.matrix("z^{[1]}", 2, 2)) == "z^[1]"


def test_two_symbols_never_print_alike():
    lam, lam_letter = mc.scalar("lam"), mc.scalar("λ")
    text = to_text(lam * A + lam_letter * B)
    assert "lam A" in text and "λ B" in text and "λ A" not in text
    assert to_text(W1 * mc.matrix("W_1", "n", "n")) == "W1 W_1"
    # Alone, each is typeset.
    assert to_text(lam * A) == "λ A" and to_text(mc.matrix("W_1", "n", "n")) == "W₁"


def test_a_dimension_is_a_name_too():
    d1 = mc.dim("d1")
    scalar = mc.scalar("d_1")
    ones = mc.ones(d1, 1)
    assert to_text(scalar * mc.colvec("v", d1) + ones) in ("d_1 v + 𝟏", "𝟏 + d_1 v")


def test_spellings_can_be_shared_by_several_expressions():
    shared = spellings(["W1", "W_1"])
    assert to_text(W1, spellings=shared) == "W1"
    assert to_text(W1) == "W₁"


def test_pi_the_symbol_is_not_pi_the_number():
    pi = mc.scalar("pi")
    assert to_text(pi * A) == "π A"
    text = to_text(pi * A + sympy.pi * B)
    assert "pi A" in text and "π B" in text


def test_the_sum_of_a_one_by_one_sum_keeps_its_parentheses():
    # −sum(a + y) of 1×1 matrices is −(a + y): printing the entry bare gave −a + y
    a, y, b = mc.matrix("a", 1, 1), mc.matrix("y", 1, 1), mc.scalar("b")
    assert mc.to_text(-mc.sum(y + a)) in ("−(a + y)", "−(y + a)")
    assert mc.to_text(b * mc.sum(y + a)) in ("b·(a + y)", "b·(y + a)")
    assert mc.to_text(mc.sum(y) * 2) == "2·y"
