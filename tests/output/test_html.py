"""Derivations as HTML with MathML (matcalc.output.html): a page that needs no network and
no JavaScript, checked as XML here and rendered in a real headless browser (Debian's
chromium, driven by Selenium) at the end.

The page is checked for what would show raw LaTeX to a reader ($, \\frac, & outside the
MathML source annotations), for escaped user text, and in the browser for MathML layout: a
fraction's numerator above its denominator, a result's formula with a real size.
"""
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from browser import BOX

import matcalc as mc
from matcalc.output.html import lines_of, math_text, repr_html, row, sentence, to_html
from matcalc.output.latex import rule_text
from models import readme_mlp

XHTML = "{http://www.w3.org/1999/xhtml}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"


@pytest.fixture(scope="module")
def mlp():
    """The README's seed-000 MLP in batch form."""
    loss, parameters = readme_mlp()
    return mc.derive(loss, parameters)


@pytest.fixture(scope="module")
def page(mlp):
    return to_html(mlp, title="The seed-000 MLP")


def without_annotations(root):
    """``root`` with the LaTeX source annotations of its formulas taken out (a copy)."""
    root = ElementTree.fromstring(ElementTree.tostring(root))
    for semantics in root.iter(MATHML + "semantics"):
        for annotation in semantics.findall(MATHML + "annotation"):
            semantics.remove(annotation)
    return root


def token_texts(math):
    return [e.text for e in math.iter() if e.tag in {MATHML + t for t in ("mi", "mo", "mn", "mtext")}]


# ---------------------------------------------------------------- the page as XML

def test_the_page_is_well_formed_and_shows_no_latex(page):
    root = ElementTree.fromstring(page)   # XHTML: every tag closed, every & escaped
    assert root.tag == XHTML + "html"
    shown = "".join(without_annotations(root).itertext())
    for latex in ("$", "\\", "&"):
        assert latex not in shown, latex
    assert r"\frac" in page   # in the annotations, for copying


def test_the_page_needs_no_network_and_no_javascript(page):
    for fetching in ("<script", "src=", "href=", "<link", "@import", "url(", "http://", "https://"):
        assert fetching not in page.replace('xmlns="http://www.w3.org/', ""), fetching


def test_the_page_has_the_derivation(page):
    root = ElementTree.fromstring(page)
    assert root.find(f".//{XHTML}title").text == "The seed-000 MLP"
    results = root.find(f".//{XHTML}div[@class='results']")
    rows = results.findall(f".//{XHTML}tr")
    assert len(rows) == 4
    # ∂L/∂W2 = A1ᵀ G2 ∈ ℝ^{h×K}, with G2 = (Ŷ − Y)/N defined in the steps
    lhs, rhs, _ = rows[2].findall(XHTML + "td")
    assert token_texts(lhs) == ["∂", "L", "∂", "W", "2"]
    assert token_texts(rhs) == ["=", "A", "1", "⊤", "G", "2", "∈", "ℝ", "h", "×", "K"]
    rules = [td for td in root.iter(XHTML + "td") if td.get("class") == "rule"]
    assert any("chain rule through " in (td.text or "") and td.find(MATHML + "math") is not None for td in rules)
    named = [token_texts(td) for td in root.iter(XHTML + "td") if td.get("class") == "rhs"]
    assert any(texts[-3:] == ["≕", "G", "2"] for texts in named)


def test_user_text_is_escaped(mlp):
    page = to_html(mlp, title="<script>alert(1)</script> & $x$")
    assert "<script" not in page
    root = ElementTree.fromstring(page)
    assert root.find(f".//{XHTML}h2").text == "<script>alert(1)</script> & $x$"


def test_the_notebook_fragment_is_a_div_with_its_style(mlp):
    fragment = mlp._repr_html_()
    assert fragment == repr_html(mlp) == to_html(mlp, full=False)
    for whole_page in ("<html", "<head", "<body", "<!DOCTYPE", "<title"):
        assert whole_page not in fragment
    root = ElementTree.fromstring(fragment)
    assert (root.tag, root.get("class")) == ("div", "matcalc")
    assert root.find("style") is not None and len(list(root.iter(MATHML + "math"))) > 20


def test_several_derivations_share_one_page(mlp):
    x, A = mc.colvec("x", "n"), mc.matrix("A", "n", "n")
    quadratic = mc.derive(x.T * A * x, x)
    root = ElementTree.fromstring(to_html([mlp, (quadratic, {"title": "A quadratic form"})], title="Two"))
    assert root.find(f".//{XHTML}h1").text == "Two"
    assert [h.text for h in root.iter(XHTML + "h2")][1] == "A quadratic form"
    assert len(root.findall(f".//{XHTML}section")) == 2


def test_a_template_directory_can_replace_the_page(mlp, tmp_path):
    (tmp_path / "derivation.html.j2").write_text("<p><%= derivations[0].results_label %></p>\n")
    assert to_html(mlp, template_dir=tmp_path) == "<p>Results</p>\n"


# ---------------------------------------------------------------- rows, lines and sentences

def test_a_broken_right_hand_side_is_one_line_each():
    """The LaTeX printer may break a long right-hand side with ``\\\\ & \\quad``."""
    assert lines_of(r"A + B \\ & \quad + C \\ & \quad - D") == ["A + B", r"\quad + C", r"\quad - D"]
    assert lines_of(r"\left[\begin{matrix}1 & 2\\3 & 4\end{matrix}\right]") == \
        [r"\left[\begin{matrix}1 & 2\\3 & 4\end{matrix}\right]"]
    assert lines_of(r"\frac{a}{b}") == [r"\frac{a}{b}"]
    r = row(r"\frac{\partial L}{\partial Z}", r"A + B \\ & \quad + C", rule=rule_text("sum rule"), defines="G")
    first, second = (ElementTree.fromstring(line) for line in r["lines"])
    assert token_texts(first) == ["=", "A", "+", "B"]
    assert token_texts(second) == ["+", "C", "≕", "G"]
    assert r["rule"] == "sum rule"


def test_sentences_are_escaped_text_with_mathml():
    html = sentence(r"Let $X \in \mathbb{R}^{N}$ hold 50\% \& a\_b <i>.")
    assert html.startswith("Let <math ") and html.endswith("</math> hold 50% &amp; a_b &lt;i&gt;.")
    assert sentence("no math") == "no math"
    rule = math_text(rule_text("chain rule through σ"))
    assert rule.startswith("chain rule through <math ") and "<mi>σ</mi>" in rule


def test_a_page_grows_with_the_distinct_subexpressions_not_the_tree():
    """k nested softmaxes: the tree doubles with each level, the page must not (as the LaTeX,
    tests/output/test_render_scaling.py)."""
    import families
    lengths = {}
    for k in (8, 16):
        f, wrt, kind = families.softmax_nested(k)
        lengths[k] = len(to_html(mc.derive(f, wrt, kind=kind)))
    assert lengths[16] / lengths[8] < 2.5


# ---------------------------------------------------------------- the command line

def test_the_command_line_writes_html(tmp_path):
    done = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x @ A @ x.T", "--wrt", "x",
                           "--shape", "x=1,n", "--shape", "A=n,n", "--html", "d.html", "--title", "<q>"],
                          cwd=tmp_path, capture_output=True, timeout=300, text=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    root = ElementTree.fromstring((tmp_path / "d.html").read_text(encoding="utf-8"))
    assert root.find(f".//{XHTML}title").text == "<q>"
    assert "wrote d.html" in done.stderr


# ---------------------------------------------------------------- in a browser (the fixture: tests/conftest.py)

def test_the_browser_lays_out_the_mathml(page, browser, tmp_path):
    path = tmp_path / "mlp.html"
    path.write_text(page, encoding="utf-8")
    browser.get(path.as_uri())

    assert len(browser.find_elements("tag name", "math")) > 40
    result = browser.find_element("css selector", ".results td.rhs math")
    left, top, width, height = browser.execute_script(BOX, result)
    assert width > 50 and height > 10

    # MathML layout is on: ∂L over ∂W1, not side by side as unknown inline elements would be.
    fraction = browser.find_element("css selector", ".results td.lhs mfrac")
    numerator, denominator = browser.execute_script("return arguments[0].children", fraction)
    _, fraction_top, _, fraction_height = browser.execute_script(BOX, fraction)
    _, numerator_top, _, numerator_height = browser.execute_script(BOX, numerator)
    denominator_left, denominator_top, _, _ = browser.execute_script(BOX, denominator)
    assert denominator_top >= numerator_top + numerator_height - 1
    line = browser.execute_script(BOX, browser.find_element("css selector", ".results td.rhs mi"))[3]
    assert fraction_height > 1.5 * line

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, min(height + 200, 8000))
    screenshot = tmp_path / "mlp.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 20_000
    print(f"screenshot of the MLP derivation: {screenshot}")

    # The formula's pixels are drawn: dark glyphs on the light results background.
    image = pytest.importorskip("PIL.Image")
    darkest, lightest = image.open(io.BytesIO(result.screenshot_as_png)).convert("L").getextrema()
    assert darkest < 100 and lightest > 200

