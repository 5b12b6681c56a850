"""A real TeX engine compiles what matcalc writes, within the page, and the templates ship
in the wheel.

Every seed derivation (matcalc.seeds: the Jacobians, gradients, OLS, MLPs, Hessians), every
catalogue entry, the derivations of the examples and a layer norm are compiled with
``pdflatex -halt-on-error``, several to a document (one run of pdflatex each, to keep the
tests quick), and pdflatex's log must report no line wider than the page by more than 5 pt
(compile_pdf parses it and warns, OverfullBoxWarning).  So are the fragment, the notebook
block and the Markdown math wrapped in a minimal document, and one document with every
printer node.  Without pdflatex on PATH these tests skip and say why.
"""
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import sympy
from sympy import Identity, Inverse, OneMatrix

import matcalc as mc
from matcalc.core import functions as F
from matcalc.output import render
from matcalc.core.symbols import matrix_symbols
from matcalc.output.latex import latex
from matcalc.output.render import LatexError, OverfullBoxWarning, compile_pdf, overfull_boxes
from matcalc.apps.catalogue import entries
from matcalc.apps.seeds import cases
from models import example

ROOT = Path(__file__).resolve().parents[2]
needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
pytestmark = [pytest.mark.pdf]

CASES = {case.key: case for case in cases()}

MINIMAL = textwrap.dedent(r"""
    \documentclass{article}
    \usepackage[utf8]{inputenc}
    \usepackage[T1]{fontenc}
    \usepackage{amsmath,amssymb,bm}
    \begin{document}
    %s
    \end{document}
    """)


def derivation_of(case):
    return mc.derive(case.function, list(case.wrt), kind=case.kind, layout=case.layout)


def _is_pdf(path):
    return path.read_bytes()[:5] == b"%PDF-"


def _too_wide(source, pdf):
    """Compile ``source``; the messages of the lines pdflatex's log finds too wide."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _is_pdf(compile_pdf(source, pdf))
    return [str(w.message) for w in caught if issubclass(w.category, OverfullBoxWarning)]


def _seed_documents():
    return [(derivation_of(case), {"names": case.names, "title": case.title, "function_name": case.function_name})
            for case in CASES.values()]


@needs_pdflatex
@pytest.mark.parametrize("bold", [False, True], ids=["plain", "bold-vectors"])
def test_every_seed_derivation_compiles_within_the_page(bold, tmp_path):
    source = mc.to_latex(_seed_documents(), bold_vectors=bold)
    assert _too_wide(source, tmp_path / "seeds.pdf") == []


@needs_pdflatex
def test_write_pdf_writes_one_derivation(tmp_path):
    case = CASES["seed000-mlp"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverfullBoxWarning)
        pdf = mc.write_pdf(derivation_of(case), tmp_path / "mlp.pdf", names=case.names, title=case.title)
    assert _is_pdf(pdf)


def _catalogue_documents():
    documents = []
    for entry in entries():
        kind = "gradient" if entry.kind == "stationary" else entry.kind   # a stationary point: ∇ = 0
        derivation = mc.derive(entry.function, [entry.wrt], kind=kind, layout=entry.layout)
        documents.append((derivation, {"title": entry.id}))
    return documents


@needs_pdflatex
def test_every_catalogue_entry_compiles_within_the_page(tmp_path):
    source = mc.to_latex(_catalogue_documents())
    assert _too_wide(source, tmp_path / "catalogue.pdf") == []


LAYER_NORM = "g * (Z - mean(Z, 1)) / sqrt(mean((Z - mean(Z, 1)) ** 2, 1) + 1/100000) + c"


def layer_norm():
    """The gradient of ⟨G, LN(Z)⟩ wrt Z and the gain g: a derivation whose lines and
    derivatives are long (its intermediates are not named), once 289 pt too wide."""
    shapes = {"Z": ("T", "d"), "g": (1, "d"), "c": (1, "d")}
    out = mc.parse(LAYER_NORM, shapes)
    symbols = {s.name: s for s in matrix_symbols(out)}
    G = mc.matrix("G", "T", "d")
    return mc.derive(mc.sum(mc.hadamard(G, out)), [symbols["Z"], symbols["g"]])


@needs_pdflatex
def test_the_examples_and_a_layer_norm_compile_within_the_page(tmp_path):
    loss, params, _ = example("mlp_digits").model()
    # The losses examples/ols_diabetes.py and examples/seed001_worked_example.py build inline.
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    ols = (y - w * X.T) * (y - w * X.T).T / (2 * mc.dim("n"))
    x, t = mc.colvec("x", 3), mc.matrix("y", 1, 1)
    W01, W12 = mc.matrix("W01", 3, 2), mc.matrix("W12", 2, 1)
    error = t - mc.sigmoid(W12.T * mc.sigmoid(W01.T * x))
    documents = [(mc.derive(loss, params), {"title": "mlp_digits"}),
                 (mc.derive(ols, [w]), {"title": "ols_diabetes"}),
                 (mc.derive(error.T * error / 2, [W01, W12]), {"title": "seed001_worked_example"}),
                 (layer_norm(), {"title": "layer norm"})]
    for bold in (False, True):
        source = mc.to_latex(documents, bold_vectors=bold)
        assert _too_wide(source, tmp_path / "examples.pdf") == []


def test_overfull_boxes_are_read_from_the_log():
    log = textwrap.dedent(r"""
        (./derivation.aux) [1]
        Overfull \hbox (39.22325pt too wide) detected at line 180
        []
         []

        Overfull \hbox (2.5pt too wide) in paragraph at lines 12--14
        []\T1/cmr/m/n/10.95 Let
        Underfull \hbox (badness 10000) in paragraph at lines 20--21
        """)
    assert overfull_boxes(log) == [(39.22325, 180), (2.5, 12)]
    assert overfull_boxes("Output written on derivation.pdf (1 page).") == []


@needs_pdflatex
def test_a_line_too_wide_is_a_warning_naming_it(tmp_path):
    source = MINIMAL % ("\\section*{Too wide}\n\\[%s\\]" % " + ".join(["x"] * 120))
    with pytest.warns(OverfullBoxWarning, match=r"line 8 of the LaTeX in \\section\*\{Too wide\} is [\d.]+ pt wider"):
        compile_pdf(source, tmp_path / "wide.pdf")
    assert _is_pdf(tmp_path / "wide.pdf")


@needs_pdflatex
# The minimal document is narrower than the article the lines are fitted to.
@pytest.mark.filterwarnings("ignore::matcalc.output.render.OverfullBoxWarning")
def test_fragment_notebook_and_markdown_math_compile(tmp_path):
    everything = [(derivation_of(c), {"names": c.names}) for c in CASES.values()]
    fragment = mc.to_latex(everything, template="fragment")
    assert _is_pdf(compile_pdf(MINIMAL % fragment, tmp_path / "fragment.pdf"))
    for template in ("notebook", "markdown"):
        text = mc.to_latex(everything, template=template)
        blocks = re.findall(r"\$\$(.*?)\$\$", text, flags=re.S)
        assert blocks
        body = "\n".join(r"\[%s\]" % block for block in blocks)
        # The prose of the Markdown (inline $...$ math) must compile as LaTeX text too.
        prose = "\n\n".join(line for line in re.sub(r"\$\$.*?\$\$", "", text, flags=re.S).splitlines()
                            if line.strip() and not line.startswith("#") and not line.startswith("**"))
        assert _is_pdf(compile_pdf(MINIMAL % (body + "\n\n" + prose), tmp_path / f"{template}.pdf"))


@needs_pdflatex
def test_every_printer_node_compiles(tmp_path):
    n = mc.dim("n")
    A, X = mc.matrix("A", "n", "n"), mc.matrix("X", "N", "n")
    x, v, Yhat = mc.rowvec("x", "n"), mc.colvec("v", "n"), mc.matrix("Yhat", "N", "n")
    exprs = [A.T, Inverse(A).T, Inverse(A * A.T), F.hadamard(X, Yhat), F.power(X, 2),
             F.hadamard(X, F.power(Yhat, -1)), Identity(n), OneMatrix(mc.dim("N"), 1) * x,
             OneMatrix(1, n), F.trace(A), F.det(A), F.logdet(A), F.diag(x), F.sigmoid(X),
             F.exp(X), F.log(X), F.tanh(X), F.relu(X), F.step(X), F.sqrt(X), F.softmax(X),
             F.softmax(X, 0), F.logsumexp(X), F.sum(X), F.norm(v) ** 2, x * (A + A.T),
             -F.sum(F.hadamard(Yhat, F.log(Yhat))) / mc.dim("N"), sympy.Symbol("lambda") * A,
             mc.matrix("W^1", 2, 2).T, mc.matrix(r"\hat{Z}_1", 2, 2),
             # symbol names typeset (λ, μ̂₁, upright words) and literal where two would clash
             mc.scalar("lam") * mc.matrix("mu_hat1", 2, 2) + mc.scalar("loss2") * mc.matrix("Sigmatilde", 2, 2),
             mc.matrix("W1", 2, 2) * mc.matrix("W_1", 2, 2) + mc.scalar("λ") * mc.scalar("lambda") * Identity(2)]
    lines = [r"\[%s\]" % latex(e, bold_vectors=bold) for e in exprs for bold in (False, True)]
    lines.append(render.escape_text("Tom's 50% & $5 #1 {x} ~ ^ \\ σ ⊙ Ŷ"))
    lines.append(r"\[%s\]" % render.rule_text("chain rule through σ & co_1"))
    assert _is_pdf(compile_pdf(MINIMAL % "\n".join(lines), tmp_path / "nodes.pdf"))


@needs_pdflatex
def test_latex_errors_are_reported(tmp_path):
    with pytest.raises(LatexError, match="Undefined control sequence"):
        compile_pdf(MINIMAL % r"\[\nosuchmacro\]", tmp_path / "bad.pdf")
    assert not (tmp_path / "bad.pdf").exists()


def test_missing_pdflatex_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(LatexError, match="pdflatex is not on PATH"):
        compile_pdf(MINIMAL % "x", tmp_path / "x.pdf")


@pytest.mark.slow
def test_the_wheel_ships_the_templates(tmp_path):
    """Build the wheel, install it in a fresh environment and render from it, away from
    the checkout, so the templates can only come from the installed package."""
    pytest.importorskip("build")
    pytest.importorskip("hatchling", reason="hatchling is needed to build without isolation (dev extras)")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("matcalc-*.whl"))
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = next((env / "lib").glob("python*/site-packages"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, timeout=300)
    # The dependencies (sympy, jinja2, numpy) come from this environment, read-only; a path
    # added by a .pth file does not run that directory's own .pth files, so the editable
    # install of the checkout stays invisible.
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "_dependencies.pth").write_text("\n".join(deps) + "\n")
    script = textwrap.dedent("""
        import shutil, sys
        import matcalc as mc
        from matcalc.output import render
        assert "%(site)s" in mc.__file__, mc.__file__
        dirs = render.template_dirs()
        assert len(dirs) == 1 and "%(site)s" in str(dirs[0]), dirs
        x, A = mc.rowvec("x", "n"), mc.matrix("A", "n", "n")
        d = mc.derive(x * A * x.T, [x, A])
        text = d.to_latex(function_name="y")
        assert text.startswith("\\\\documentclass") and "x (A + A^{\\\\top})" in text, text
        assert "$$" in d._repr_markdown_()
        if shutil.which("pdflatex"):
            mc.write_pdf(d, "out.pdf")
            assert open("out.pdf", "rb").read(5) == b"%%PDF-"
        print("rendered from", mc.__file__)
        """) % {"site": str(site)}
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([str(env / "bin" / "python"), "-c", script], cwd=work,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert str(site) in done.stdout
