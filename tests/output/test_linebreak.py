"""Widths and line breaks: the estimate against pdflatex's measurements, and where long
expressions break (matcalc.output.linebreak)."""
import pytest
from sympy import Inverse

import matcalc as mc
from matcalc.core import functions as F
from matcalc.output.latex import latex, partial
from matcalc.output.naming import _balanced
from matcalc.output.linebreak import QUAD, latex_lines, partial_lines, width

n, m, N, K = mc.dim("n"), mc.dim("m"), mc.dim("N"), mc.dim("K")
A, B = mc.matrix("A", "n", "n"), mc.matrix("B", "n", "n")
X, Y = mc.matrix("X", "N", "n"), mc.matrix("Y", "N", "K")
W1, b1 = mc.matrix("W1", "n", "K"), mc.rowvec("b1", "K")
x, v = mc.rowvec("x", "n"), mc.colvec("v", "n")


# ---------------------------------------------------------------- widths and line breaks

@pytest.mark.parametrize("tex, measured", [
    # widths pdflatex gives, 11 pt: \setbox0\hbox{$\displaystyle …$}\showthe\wd0
    ("abcdefghijklmnopqrstuvwxyz", 147.24), ("A + B", 30.45), ("A = B", 31.67),
    (r"\text{product rule and transpose rule}", 150.75), (r"\operatorname{sum}(x)", 34.30),
    (r"\frac{\partial \mathcal{L}}{\partial x}", 16.37), (r"{v^{[2]}}^{\top}", 22.28), (r"\lVert x\rVert", 17.21),
])
def test_width_estimates_what_pdflatex_sets(tex, measured):
    assert 0.97 * measured <= width(tex) <= 1.08 * measured


def _sum_of_products(k):
    return sum((mc.matrix(f"A{i}", "n", "n") * mc.matrix(f"B{i}", "n", "n") for i in range(2, k + 1)),
               mc.matrix("A1", "n", "n") * mc.matrix("B1", "n", "n"))


def test_a_line_that_fits_is_not_broken():
    assert latex_lines(X * W1, 480) == [latex(X * W1)]
    assert latex_lines(_sum_of_products(3), 480) == [latex(_sum_of_products(3))]


def test_a_long_sum_breaks_before_its_terms():
    expr = _sum_of_products(12)
    lines = latex_lines(expr, 150)
    assert len(lines) >= 3
    assert width(lines[0]) <= 150 and all(width(line) <= 150 - QUAD for line in lines[1:])
    assert all(line.startswith("{}+ A_{") for line in lines[1:])   # the operator starts the line
    assert " ".join(lines).replace("{}", "") == latex(expr)        # nothing lost, nothing added


def test_a_sum_breaks_before_an_entrywise_product_does():
    C, D, P, Q = (mc.matrix(name, "n", "n") for name in "CDPQ")
    first, second = F.hadamard(A, B, C, D), F.hadamard(P, Q, A, B)
    lines = latex_lines(first + second, 120)
    assert len(lines) == 2 and lines[1].startswith("{}+ ")
    assert lines[0].count(r"\odot") == lines[1].count(r"\odot") == 3   # each term whole


def test_a_product_breaks_between_its_factors_only_when_nothing_else_fits():
    product = X * mc.matrix("Wlong", "n", "n") * (A + B) * (A - B) * (A + B.T) * (B - A.T) * W1
    lines = latex_lines(product, 120)
    assert len(lines) > 1
    assert all(not line.startswith(("{}+", "{}-")) for line in lines[1:])   # not inside a group
    assert " ".join(lines) == latex(product)


def test_breaks_stay_out_of_braces_and_split_delimiters_stay_balanced():
    expr = F.sigmoid(_sum_of_products(8) / N)
    assert latex(expr).startswith(r"\sigma\left(\frac{1}{N} (")
    lines = latex_lines(expr, 150)
    assert len(lines) >= 2
    for line in lines:
        assert _balanced(line), line
        assert line.count(r"\left") == line.count(r"\right"), line
    assert lines[0].endswith(r"\right.") and lines[-1].startswith(r"\left.\vphantom{")
    assert lines[-1].endswith(r"\right)")


def test_a_derivative_too_wide_for_a_fraction_is_written_inline():
    target = _sum_of_products(8)
    assert partial_lines("L", target, 480) == [partial("L", target)]
    lines = partial_lines("L", target, 150)
    assert lines[0].startswith(r"\partial L / \partial \left(A_{1} B_{1} + ")
    assert lines[-1].endswith(r"\right)") and all(width(line) <= 150 for line in lines)


def test_a_scalar_sum_breaks_before_its_terms_not_inside_them():
    Sigma = mc.matrix("Sigma", "n", "n")
    loss = F.logdet(Sigma) / 2 + F.trace(A * Inverse(Sigma) * A.T) / 2 + mc.scalar("lam") * F.norm(A) ** 2
    lines = latex_lines(loss, 150)
    assert len(lines) == 2 and lines[1].startswith("{}+ ")
    assert " ".join(lines).replace("{}", "") == latex(loss)
