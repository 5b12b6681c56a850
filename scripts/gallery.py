"""Write the gallery of derivations (docs/gallery/), or check that it is up to date.

    .venv/bin/python scripts/gallery.py [--out docs/gallery] [--no-pdf] [--check]

The entries are defined in matcalc/apps/gallery.py and the pages written by
matcalc/apps/gallery_pages.py: for each entry a Markdown page, an HTML page with MathML,
a LaTeX article and its PDF (pdflatex), plus README.md, the index.  ``--check`` writes
nothing: it regenerates the text files in memory, compares them with those in ``--out``,
lists the stale ones and exits with status 1 if there are any (PDFs only when missing).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matcalc.apps.gallery import entries  # noqa: E402
from matcalc.apps.gallery_pages import stale_files, write_gallery  # noqa: E402
from matcalc.errors import MatcalcError  # noqa: E402
from matcalc.output.render import pdflatex  # noqa: E402


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "gallery"), help="the gallery directory")
    parser.add_argument("--check", action="store_true",
                        help="compare the regenerated text files with those in --out; exit 1 if any is stale")
    parser.add_argument("--no-pdf", action="store_true", help="write the text files only")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="only these entries (not with --check)")
    return parser


def _selection(keys):
    known = {entry.key: entry for entry in entries()}
    unknown = [key for key in keys or () if key not in known]
    if unknown:
        sys.exit(f"no gallery entry {', '.join(unknown)}; the entries are: {', '.join(known)}")
    return [known[key] for key in keys] if keys else list(known.values())


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.check and args.only:
        sys.exit("--check compares the whole gallery; leave out --only")
    progress = sys.stderr.isatty()
    if args.check:
        stale = stale_files(args.out, progress=progress)
        for name, why in stale:
            print(f"stale: {Path(args.out) / name} ({why})")
        if stale:
            print(f"{len(stale)} stale file(s); regenerate with `make gallery`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    if not args.no_pdf and pdflatex() is None:
        sys.exit("pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended); "
                 "use --no-pdf to write the text files only")
    # The same .tex gives the same PDF bytes: no creation date, so unchanged PDFs stay unchanged in git.
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    os.environ.setdefault("FORCE_SOURCE_DATE", "1")
    written = write_gallery(args.out, selection=_selection(args.only), pdf=not args.no_pdf, progress=True)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MatcalcError as error:
        sys.exit(f"error: {error}")
