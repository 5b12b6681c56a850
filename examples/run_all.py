"""The main job: derive every seed example, write its LaTeX derivation, train on real data.

Run it with ``make run`` (which sets up the environment first).  Outputs go to ``out/``:
``out/derivations/*.tex`` (and ``*.pdf`` when pdflatex is installed), the trained
parameters and loss curves of the examples.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import matcalc as mc  # noqa: E402


def derive_seeds(outdir: Path, pdf: bool):
    from matcalc.apps.seeds import write_seed_derivations

    print("== Derivations of the seed examples")

    def report(case, derivation, paths):
        print(f"\n[{case.key}] {case.title}  ({case.source})")
        for variable, result in derivation.results.items():
            print(f"  {case.kind} w.r.t. {variable.name}: {mc.to_text(result)}")
        if case.note:
            print(f"  note: {case.note}")
        print(f"  wrote {', '.join(p.name for p in paths)}")

    written = write_seed_derivations(outdir / "derivations", pdf=pdf, report=report)
    print(f"\nAll derivations in one document: {written[-1]}")


def train_examples(outdir: Path, quick: bool):
    import ols_diabetes
    import mlp_digits
    import seed001_worked_example

    print("\n== Training with compiled gradients")
    print("\n[seed 001] one forward pass and one backpropagation update")
    seed001_worked_example.main()
    print("\n[seed 000] ordinary least squares on scikit-learn's diabetes data")
    ols = ols_diabetes.main(quick=quick, outdir=outdir / "training")
    print("\n[seed 000] two-layer MLP on scikit-learn's digits")
    mlp = mlp_digits.main(quick=quick, outdir=outdir / "training")
    return ols, mlp


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="output directory (default: out/)")
    parser.add_argument("--full", action="store_true", help="train longer (the default is a quick setting)")
    parser.add_argument("--no-train", action="store_true", help="only derive and typeset")
    args = parser.parse_args(argv)
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    pdf = shutil.which("pdflatex") is not None
    if not pdf:
        print("note: pdflatex not found; writing .tex only (install texlive-latex-base for PDFs)")
    derive_seeds(outdir, pdf)
    if not args.no_train:
        train_examples(outdir, quick=not args.full)
    print(f"\nDone. Outputs are in {outdir.resolve()}")


if __name__ == "__main__":
    main()
