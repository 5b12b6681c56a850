"""The gallery (docs/gallery/, matcalc.apps.gallery): up to date with the code that writes
it, every derivation in it agreeing with finite differences, and its LaTeX typeset without
lines that run into the margin.

The pages are regenerated once into a temporary directory (a few seconds) and compared
with the checked-in ones; a difference means the printers or the entries changed since
`make gallery` was last run.  PDFs are binary and not compared: their .tex files are.
"""
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
import sympy

import matcalc as mc
from matcalc.apps.gallery import entries
from matcalc.apps.gallery_pages import INDEX, INDEX_PAGE, TEXT_SUFFIXES, stale_files, write_gallery
from matcalc.core import functions as F
from matcalc.core.symbols import matrix_symbols
from matcalc.output.render import overfull_boxes
from numeric import (check_gradient, check_hessian, check_jacobian, evaluate, infer_dims,
                     random_values)

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"
ENTRIES = {entry.key: entry for entry in entries()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The text files of the gallery, written afresh."""
    out = tmp_path_factory.mktemp("gallery")
    write_gallery(out, pdf=False)
    return out


# ---------------------------------------------------------------- freshness

def test_the_checked_in_gallery_is_what_the_code_writes(generated):
    names = sorted(path.name for path in generated.iterdir())
    stale = [name for name in names if not (GALLERY / name).exists()
             or (GALLERY / name).read_text(encoding="utf-8") != (generated / name).read_text(encoding="utf-8")]
    orphans = sorted(path.name for path in GALLERY.iterdir()
                     if path.suffix in TEXT_SUFFIXES and path.name not in names)
    assert not stale and not orphans, (
        f"docs/gallery is out of date: {', '.join(stale)} differ or are missing"
        + (f"; {', '.join(orphans)} are written by no entry" if orphans else "")
        + "; run `make gallery`")


def test_the_gallery_has_every_page_and_pdf_and_an_index(generated):
    assert len(ENTRIES) >= 20
    expected = {INDEX, INDEX_PAGE} | {key + suffix for key in ENTRIES for suffix in TEXT_SUFFIXES}
    assert {path.name for path in generated.iterdir()} == expected
    missing = [f"{key}.pdf" for key in ENTRIES if not (GALLERY / f"{key}.pdf").is_file()]
    assert not missing, f"no PDF checked in for {missing}; run `make gallery`"
    index = (generated / INDEX).read_text(encoding="utf-8")
    page = (generated / INDEX_PAGE).read_text(encoding="utf-8")
    for key, entry in ENTRIES.items():
        assert f"[{entry.title}]({key}.md)" in index
        assert f'<a href="{key}.html">{entry.title}</a>' in page
        for suffix in (".html", ".pdf"):
            assert f"({key}{suffix})" in index
        assert f'href="{key}.pdf"' in page


def test_every_html_page_is_well_formed_and_holds_mathml(generated):
    for name in [f"{key}.html" for key in ENTRIES] + [INDEX_PAGE]:
        page = ElementTree.parse(generated / name).getroot()   # raises on malformed XHTML
        maths = page.findall(".//{http://www.w3.org/1998/Math/MathML}math")
        assert len(maths) >= 20, name
        assert "$" not in "".join(page.itertext()), f"{name}: raw LaTeX math in the page"


def test_the_pages_show_the_stationary_point_of_ridge(generated):
    for suffix in (".md", ".tex"):
        text = (generated / f"ridge{suffix}").read_text(encoding="utf-8")
        assert "Stationary point" in text and r"\hat{w} = " in text


def test_stale_files_and_the_check_option_name_what_is_out_of_date(tmp_path, generated):
    one = [ENTRIES["ols"]]
    for name in ("ols.md", "ols.html", "ols.tex", INDEX, INDEX_PAGE):
        shutil.copy(generated / name, tmp_path / name)
    (tmp_path / "ols.pdf").write_bytes(b"%PDF-")
    assert stale_files(tmp_path, selection=one) == []
    (tmp_path / "ols.md").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "ols.tex").unlink()
    (tmp_path / "ols.pdf").unlink()
    (tmp_path / "removed-entry.html").write_text("<p/>", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a page", encoding="utf-8")
    assert sorted(stale_files(tmp_path, selection=one)) == [
        ("ols.md", "differs"), ("ols.pdf", "missing"), ("ols.tex", "missing"),
        ("removed-entry.html", "written by no entry")]
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gallery.py"), "--check", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1
    assert f"stale: {tmp_path / 'ols.md'} (differs)" in done.stdout
    assert "removed-entry.html (written by no entry)" in done.stdout


# ---------------------------------------------------------------- the mathematics

def _sizes(*exprs):
    """A size for every dimension: N larger than the rest (least squares needs N > d), the
    others 2 to 5, distinct where there are few enough."""
    names = sorted({str(s) for e in exprs for m in matrix_symbols(e)
                    for d in m.shape for s in sympy.sympify(d).free_symbols})
    return {name: 7 if name == "N" else 2 + k % 4 for k, name in enumerate(names)}


def _values(expr, seed):
    """Random values for ``expr``, square matrices shifted by n I: well conditioned, and with
    a positive determinant for log det."""
    values = random_values(expr, _sizes(expr), seed=seed)
    for name, value in values.items():
        if np.ndim(value) == 2 and value.shape[0] == value.shape[1] > 1:
            values[name] = value + value.shape[0] * np.eye(value.shape[0])
    return values


def _check(part, derivation, x, values):
    """The relative error of the derivative of ``x`` against central differences."""
    result = derivation.results[x]
    if part.kind == "gradient":
        return check_gradient(part.function, x, result, values)
    if part.kind == "vjp":
        return check_gradient(F.sum(F.hadamard(part.cotangent, part.function)), x, result, values)
    if part.kind == "hessian":
        return check_hessian(part.function, x, result, values)
    return check_jacobian(part.function, x, result, values, layout=part.layout)


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_every_derivation_agrees_with_finite_differences(key):
    for part in ENTRIES[key].parts():
        derivation = part.derive()
        whole = part.function if part.cotangent is None else F.sum(F.hadamard(part.cotangent, part.function))
        values = _values(whole, seed=3)
        for x in part.wrt:
            tolerance = 1e-5 if part.kind == "hessian" else 1e-6
            assert _check(part, derivation, x, values) < tolerance, f"{key}: the derivative for {x}"


@pytest.mark.parametrize("key", sorted(k for k, e in ENTRIES.items() if any(p.solve_for for p in e.parts())))
def test_the_gradient_vanishes_at_the_stationary_point(key):
    for part in ENTRIES[key].parts():
        if part.solve_for is None:
            continue
        w = part.solve_for
        gradient = part.derive().results[w]
        values = _values(part.function, seed=5)
        dims = infer_dims(part.function, values)
        somewhere = np.abs(evaluate(gradient, values, dims)).max()
        at_solution = dict(values, **{w.name: evaluate(mc.solve_stationary(part.function, w), values, dims)})
        assert np.abs(evaluate(gradient, at_solution, dims)).max() < 1e-9 * max(1.0, somewhere), key


# ---------------------------------------------------------------- typesetting

def _one_document(sources):
    """The bodies of the checked-in articles in one document (one pdflatex run is much
    faster than twenty), and the first line of each in it, to say which file a line is in."""
    preambles = {source.split("\\begin{document}")[0] for source in sources.values()}
    assert len(preambles) == 1, "the gallery's articles have different preambles"
    lines, starts = [preambles.pop() + "\\begin{document}"], {}
    for name, source in sources.items():
        starts[name] = sum(part.count("\n") + 1 for part in lines) + 1
        body = source.split("\\begin{document}", 1)[1].rsplit("\\end{document}", 1)[0]
        lines.append(body + "\\clearpage")
    lines.append("\\end{document}\n")
    return "\n".join(lines), starts


# Pages with a line too wide that only the printer can fix, each with the reason; the test
# fails when one of them no longer overflows, so that this list only ever shrinks.
KNOWN_OVERFULL: dict = {}


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_no_line_of_the_gallery_runs_into_the_margin(tmp_path):
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(GALLERY.glob("*.tex"))}
    assert len(sources) == len(ENTRIES)
    document, starts = _one_document(sources)
    (tmp_path / "gallery.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape",
                           "gallery.tex"], cwd=tmp_path, capture_output=True, timeout=300)
    log = (tmp_path / "gallery.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]

    def file_of(line):
        return max((start, name) for name, start in starts.items() if start <= line)[1]

    wide = {}
    for points, line in overfull_boxes(log):
        if points > 5:
            wide.setdefault(file_of(line), []).append(points)
    unexpected = {name: points for name, points in wide.items() if name not in KNOWN_OVERFULL}
    assert not unexpected, "Overfull \\hbox over 5 pt: " + "; ".join(
        f"{name}: {', '.join(f'{p:.1f} pt' for p in points)}" for name, points in sorted(unexpected.items()))
    fixed = sorted(set(KNOWN_OVERFULL) - set(wide))
    assert not fixed, f"{fixed} no longer overflow: take them out of KNOWN_OVERFULL"
