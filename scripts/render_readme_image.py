"""Render one derivation to docs/derivation.png for the README.

    .venv/bin/python scripts/render_readme_image.py [--case seed000-mlp] [--dpi 100]

Derives a seed case, typesets it with the article template, compiles it with pdflatex
and turns the first page into a PNG with pdftoppm (poppler-utils).  Commit the PNG.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matcalc as mc  # noqa: E402
from matcalc.apps.seeds import cases  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="seed000-mlp", help="a key of matcalc.apps.seeds.cases()")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "docs" / "derivation.png"))
    args = parser.parse_args(argv)
    for tool in ("pdflatex", "pdftoppm"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install texlive-latex-base "
                     f"texlive-latex-recommended poppler-utils)")
    case = {c.key: c for c in cases()}.get(args.case)
    if case is None:
        sys.exit(f"no case {args.case!r}; choose one of: {', '.join(c.key for c in cases())}")
    derivation = mc.derive(case.function, list(case.wrt), kind=case.kind, layout=case.layout)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        pdf = mc.write_pdf(derivation, Path(work) / "derivation.pdf", names=case.names, title=case.title)
        subprocess.run(["pdftoppm", "-png", "-r", str(args.dpi), "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(Path(work) / "page")], check=True)
        shutil.copyfile(Path(work) / "page.png", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
