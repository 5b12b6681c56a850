"""A real TeX engine compiles what matcalc writes, and the templates ship in the wheel.

Every seed derivation (matcalc.seeds: the Jacobians, gradients, OLS, MLPs, Hessians) is
compiled with ``pdflatex -halt-on-error``; so are the fragment, the notebook block and the
Markdown math wrapped in a minimal document, and one document with every printer node.
Without pdflatex on PATH these tests skip and say why.
"""
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy
from sympy import Identity, Inverse, OneMatrix

import matcalc as mc
from matcalc.core import functions as F
from matcalc.output import render
from matcalc.output.latex import latex
from matcalc.output.render import LatexError, compile_pdf
from matcalc.apps.seeds import cases

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


@needs_pdflatex
@pytest.mark.parametrize("key", sorted(CASES))
def test_every_seed_derivation_compiles(key, tmp_path):
    case = CASES[key]
    derivation = derivation_of(case)
    pdf = mc.write_pdf(derivation, tmp_path / f"{key}.pdf", names=case.names, title=case.title,
                       function_name=case.function_name)
    assert _is_pdf(pdf)
    bold = mc.write_pdf(derivation, tmp_path / f"{key}-bold.pdf", bold_vectors=True, names=case.names)
    assert _is_pdf(bold)


@needs_pdflatex
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
             mc.matrix("W^1", 2, 2).T, mc.matrix(r"\hat{Z}_1", 2, 2)]
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
