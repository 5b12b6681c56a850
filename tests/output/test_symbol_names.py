r"""Symbol names typeset the way people write them, the same in text and LaTeX.

The expected spellings are written by hand from textbook usage: a Greek word is its letter
(λ for ``lam``, as in "ridge penalty λ"), trailing digits and ``_k`` are subscripts (W₁, x_k),
``hat``/``bar``/``tilde`` suffixes are accents (Ŷ, ȳ), a word of several letters is set
upright in LaTeX (``\mathrm{loss}``), and LaTeX the user wrote is kept as written.
"""
import pytest

from matcalc.output.symbols import latex_to_text, literal, spellings, typeset


@pytest.mark.parametrize("name, text, tex", [
    # Greek words, whole or abbreviated
    ("lam", "λ", r"\lambda"), ("lambda", "λ", r"\lambda"), ("eps", "ε", r"\epsilon"),
    ("epsilon", "ε", r"\epsilon"), ("mu", "μ", r"\mu"), ("sigma", "σ", r"\sigma"),
    ("Sigma", "Σ", r"\Sigma"), ("tau", "τ", r"\tau"), ("alpha", "α", r"\alpha"), ("beta", "β", r"\beta"),
    ("gamma", "γ", r"\gamma"), ("delta", "δ", r"\delta"), ("Delta", "Δ", r"\Delta"),
    ("theta", "θ", r"\theta"), ("eta", "η", r"\eta"), ("rho", "ρ", r"\rho"), ("phi", "φ", r"\phi"),
    ("psi", "ψ", r"\psi"), ("omega", "ω", r"\omega"), ("Omega", "Ω", r"\Omega"), ("nu", "ν", r"\nu"),
    ("xi", "ξ", r"\xi"), ("pi", "π", r"\pi"), ("Lam", "Λ", r"\Lambda"),
    # subscripts: trailing digits, _k, _{ij}
    ("W1", "W₁", "W_{1}"), ("W12", "W₁₂", "W_{12}"), ("W_1", "W₁", "W_{1}"), ("x_k", "x_k", "x_{k}"),
    ("x_ij", "x_ij", "x_{ij}"), ("x_{ij}", "x_ij", "x_{ij}"), ("x_alpha", "x_α", r"x_{\alpha}"),
    # accents
    ("Yhat", "Ŷ", r"\hat{Y}"), ("y_hat", "ŷ", r"\hat{y}"), ("ybar", "ȳ", r"\bar{y}"),
    ("Xtilde", "X̃", r"\tilde{X}"), ("muhat", "μ̂", r"\hat{\mu}"),
    # combinations
    ("mu_hat1", "μ̂₁", r"\hat{\mu}_{1}"), ("Sigma2", "Σ₂", r"\Sigma_{2}"), ("lam_k", "λ_k", r"\lambda_{k}"),
    ("Yhat2", "Ŷ₂", r"\hat{Y}_{2}"), ("W^1", "W¹", "W^{1}"),
    # Unicode Greek names
    ("λ", "λ", r"\lambda"), ("μ_1", "μ₁", r"\mu_{1}"),
    # words: upright in LaTeX, not a product of letters
    ("loss", "loss", r"\mathrm{loss}"), ("loss2", "loss₂", r"\mathrm{loss}_{2}"),
    ("alphabet", "alphabet", r"\mathrm{alphabet}"), ("lumbar", "lumbar", r"\mathrm{lumbar}"),
    ("dv", "dv", "dv"), ("dk2", "dk₂", "dk_{2}"),
    # names of the naming pass
    ("Z_1", "Z₁", "Z_{1}"), ("G_2", "G₂", "G_{2}"), ("R_1", "R₁", "R_{1}"), ("A_1", "A₁", "A_{1}"),
    ("g", "g", "g"), ("Phat", "P̂", r"\hat{P}"), ("R_{11}", "R₁₁", "R_{11}"),
    # LaTeX names, given with names=: kept in LaTeX, read into Unicode for text
    (r"\hat{Y}", "Ŷ", r"\hat{Y}"), ("Z_{1}", "Z₁", "Z_{1}"), ("z^{[1]}", "z^[1]", "z^{[1]}"),
    (r"v^{(1)}_{out}", "v⁽¹⁾_out", r"v^{(1)}_{out}"), (r"\mathcal{L}_{2}", "L₂", r"\mathcal{L}_{2}"),
    # anything else as it is
    ("a_b_c", "a_b_c", r"\mathrm{a\_b\_c}"), ("my var", "my var", r"\text{my var}"),
])
def test_names_are_typeset_as_textbooks_write_them(name, text, tex):
    spelling = typeset(name)
    assert (spelling.text, spelling.latex()) == (text, tex)


def test_bold_applies_to_the_letter_not_its_subscript():
    assert typeset("b1").latex(bold=True) == r"\boldsymbol{b}_{1}"
    assert typeset("mu_hat").latex(bold=True) == r"\boldsymbol{\hat{\mu}}"


@pytest.mark.parametrize("names, expected", [
    (["lam", "λ"], {"lam": ("lam", r"\mathrm{lam}"), "λ": ("λ", r"\lambda")}),
    (["lam", "lambda"], {"lam": ("lam", r"\mathrm{lam}"), "lambda": ("lambda", r"\mathrm{lambda}")}),
    (["W1", "W_1"], {"W1": ("W1", r"\mathrm{W1}"), "W_1": ("W_1", r"\mathrm{W\_1}")}),
    (["W1", "W_{1}"], {"W1": ("W1", r"\mathrm{W1}"), "W_{1}": ("W_{1}", "W_{1}")}),
    (["Yhat", r"\hat{Y}", "Y"], {"Yhat": ("Yhat", r"\mathrm{Yhat}"), r"\hat{Y}": (r"\hat{Y}", r"\hat{Y}"),
                                 "Y": ("Y", "Y")}),
])
def test_names_that_would_print_alike_keep_their_literal_spelling(names, expected):
    chosen = spellings(names)
    assert {name: (s.text, s.latex()) for name, s in chosen.items()} == expected
    assert len({s.text for s in chosen.values()}) == len(names)
    assert len({s.latex() for s in chosen.values()}) == len(names)


def test_names_that_do_not_clash_are_typeset():
    chosen = spellings(["lam", "W1", "W2", "x"])
    assert [s.text for s in chosen.values()] == ["λ", "W₁", "W₂", "x"]


def test_literal_spellings():
    assert literal("λ").latex() == r"\lambda"
    assert literal("x").latex() == "x"
    assert literal("100%").latex() == r"\text{100\%}"


def test_latex_names_read_into_text():
    assert latex_to_text(r"\hat{\mu}_{k}") == "μ̂_k"
    assert latex_to_text(r"\bar x") == "x̄"
    assert latex_to_text(r"W^{\top}") == "Wᵀ"
    assert latex_to_text(r"\mathbf{1}_{n}") == "1_n"
