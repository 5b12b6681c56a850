"""The worked examples of the seed documents, as data.

Every formula the project was created from (``shared/seeds``: Choi's backpropagation notes,
a blog post on gradient descent and backpropagation, and lecture slides) is a case here:
the function, the variables, and what the document claims.  The main job derives and
typesets them; tests and the catalogue check them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import files
from ..core import functions as F
from ..calculus.derive import derive
from ..core.symbols import colvec, dim, matrix, rowvec
from ..output.render import compile_pdf, pdflatex, to_latex


@dataclass(frozen=True)
class SeedCase:
    key: str                 # file name stem: "seed000-quadratic-form"
    title: str
    source: str              # document and place
    function: object
    wrt: tuple
    kind: str = "gradient"   # "gradient", "jacobian" or "hessian"
    layout: str = "numerator"
    names: dict = field(default_factory=dict, hash=False, compare=False)  # display names of subexpressions
    note: str = ""
    function_name: str | None = None   # LaTeX name of the function as the document writes it


def affine_row():
    x, A, b = rowvec("x", "n"), matrix("A", "n", "m"), rowvec("b", "m")
    return SeedCase("seed000-affine", "Jacobians of y = xA + b", "seed 000, 'Formulas' (row vectors)",
                    x * A + b, (x, b), kind="jacobian", function_name="y",
                    note="The notes give ∂y/∂x = Aᵀ and ∂y/∂b = I_m in numerator layout.")


def quadratic_form_row():
    x, A = rowvec("x", "n"), matrix("A", "n", "n")
    return SeedCase("seed000-quadratic-form", "Gradient of y = x A xᵀ", "seed 000, 'Formulas'",
                    x * A * x.T, (x, A), note="The notes give x(A + Aᵀ) and xᵀx.", function_name="y")


def ordinary_least_squares():
    n = dim("n")
    w, X, y = rowvec("w", "d"), matrix("X", "n", "d"), rowvec("y", "n")
    L = (y - w * X.T) * (y - w * X.T).T / (2 * n)
    return SeedCase("seed000-ols", "Ordinary least squares", "seed 000, 'Linear Regression'", L, (w,),
                    note="The notes give (1/n)(−yX + w XᵀX); setting it to zero gives ŵ = yX(XᵀX)⁻¹.")


def mlp_two_layer(onehot=True):
    N = dim("N")
    X, Y = matrix("X", "N", "d"), matrix("Y", "N", "K", onehot=onehot)
    W1, b1 = matrix("W1", "d", "h"), rowvec("b1", "h")
    W2, b2 = matrix("W2", "h", "K"), rowvec("b2", "K")
    ones = F.ones("N", 1)
    Z1 = X * W1 + ones * b1
    A1 = F.sigmoid(Z1)
    Z2 = A1 * W2 + ones * b2
    Yhat = F.softmax(Z2)
    L = -F.sum(F.hadamard(Y, F.log(Yhat))) / N
    key = "seed000-mlp" if onehot else "seed000-mlp-soft-labels"
    return SeedCase(key, "Two-layer MLP with softmax cross-entropy (batch form)",
                    "seed 000, 'Computing Gradients in Classification'", L, (W2, b2, W1, b1),
                    names={Z1: "Z_1", A1: "A_1", Z2: "Z_2", Yhat: r"\hat{Y}"},
                    note="With one-hot rows, ∂L/∂Z₂ = (Ŷ − Y)/N. The notes' ∂L/∂W¹ = Σₙ xⁿ ∂L/∂z^{n,1} "
                         "needs a transpose: xⁿᵀ ∂L/∂z^{n,1} (xⁿ is a row).")


def seed001_network():
    x, y = colvec("x", 3), matrix("y", 1, 1)
    W1, W2 = matrix("W01", 3, 2), matrix("W12", 2, 1)
    v1 = F.sigmoid(W1.T * x)
    yhat = F.sigmoid(W2.T * v1)
    E = F.sum(F.hadamard(y - yhat, y - yhat)) / 2
    return SeedCase("seed001-network", "Backpropagation in a 3-2-1 network", "seed 001, 'Example'",
                    E, (W2, W1), names={v1: r"v^{(1)}_{out}", yhat: r"\hat{y}"}, function_name="E",
                    note="The post's error terms δ = (y − ŷ) f′ are the negative gradient; "
                         "its δ⁽¹⁾ needs an elementwise product, not (W δ⁽²⁾) f′(v)ᵀ.")


def seed002_two_layer():
    x, y = colvec("x", "d"), colvec("y", "o")
    W1, W2 = matrix("W1", "h", "d"), matrix("W2", "o", "h")
    v = F.sigmoid(W1 * x)
    yhat = F.sigmoid(W2 * v)
    L = F.norm(yhat - y) ** 2
    return SeedCase("seed002-squared-error", "Two-layer network, squared error",
                    "seed 002, 'Backpropagation'", L, (W2, W1), names={v: "v", yhat: r"\hat{y}"},
                    function_name=r"\mathcal{L}",
                    note="The slides give ∇W₂ = 2R ⊙ ŷ ⊙ (1 − ŷ) vᵀ and "
                         "∇W₁ = [W₂ᵀ(2R ⊙ ŷ ⊙ (1 − ŷ)) ⊙ v ⊙ (1 − v)] xᵀ, R = ŷ − y.")


def seed002_three_layer_bce():
    x, y = colvec("x", "d"), matrix("y", 1, 1)
    W1, b1 = matrix("W1", "h1", "d"), colvec("b1", "h1")
    W2, b2 = matrix("W2", "h2", "h1"), colvec("b2", "h2")
    W3, b3 = matrix("W3", 1, "h2"), matrix("b3", 1, 1)
    z1 = W1 * x + b1
    v1 = F.sigmoid(z1)
    z2 = W2 * v1 + b2
    v2 = F.sigmoid(z2)
    z3 = W3 * v2 + b3
    yhat = F.sigmoid(z3)
    one = F.ones(1, 1)
    L = -F.sum(F.hadamard(y, F.log(yhat)) + F.hadamard(one - y, F.log(one - yhat)))
    return SeedCase("seed002-three-layer-bce", "Three-layer network, binary cross-entropy",
                    "seed 002, 'What are the gradients?'", L, (W3, b3, W2, b2, W1, b1),
                    names={z1: "z^{[1]}", v1: "v^{[1]}", z2: "z^{[2]}", v2: "v^{[2]}",
                           z3: "z^{[3]}", yhat: r"\hat{y}"}, function_name=r"\mathcal{L}",
                    note="∂L/∂W³ = (ŷ − y) v²ᵀ; the slides print (y − ŷ) v²ᵀ, which has the wrong sign.")


def hessian_quadratic():
    x, A = colvec("x", "n"), matrix("A", "n", "n")
    return SeedCase("hessian-quadratic-form", "Hessian of xᵀAx", "ADJOINTS.md; Matrix Cookbook (81)",
                    x.T * A * x, (x,), kind="hessian")


def hessian_least_squares():
    x, A, b = colvec("x", "n"), matrix("A", "m", "n"), colvec("b", "m")
    return SeedCase("hessian-least-squares", "Hessian of ‖Ax − b‖²", "Matrix Cookbook (84)",
                    F.norm(A * x - b) ** 2, (x,), kind="hessian")


def hessian_logistic():
    X, w, t = matrix("X", "N", "n"), colvec("w", "n"), colvec("t", "N")
    p = F.sigmoid(X * w)
    one = F.ones("N", 1)
    L = -F.sum(F.hadamard(t, F.log(p)) + F.hadamard(one - t, F.log(one - p)))
    return SeedCase("hessian-logistic", "Hessian of the logistic loss", "ADJOINTS.md",
                    L, (w,), kind="hessian", names={p: "p"})


def cases() -> list[SeedCase]:
    """Every seed example, in the order the documents give them, then the Hessians."""
    return [affine_row(), quadratic_form_row(), ordinary_least_squares(), mlp_two_layer(),
            mlp_two_layer(onehot=False), seed001_network(), seed002_two_layer(),
            seed002_three_layer_bce(), hessian_quadratic(), hessian_least_squares(),
            hessian_logistic()]


# ---------------------------------------------------------------- writing them

def write_seed_derivations(outdir, *, pdf=None, selection=None, report=None) -> list[Path]:
    """Derive every case of this module and write it as ``<key>.tex`` (and
    ``<key>.pdf`` when pdflatex is present, or when ``pdf=True``), plus
    ``seed_derivations.tex`` (``.pdf``) with all of them.  Returns the paths written.
    ``report(case, derivation, paths)``, when given, is called after each case."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pdf = pdflatex() is not None if pdf is None else pdf
    written, everything = [], []
    for case in selection if selection is not None else cases():
        derivation = derive(case.function, list(case.wrt), kind=case.kind, layout=case.layout)
        options = {"names": case.names, "title": case.title, "function_name": case.function_name}
        everything.append((derivation, options))
        tex = outdir / f"{case.key}.tex"
        source = to_latex(derivation, **options)
        files.write(tex, source)
        paths = [tex] + ([compile_pdf(source, tex.with_suffix(".pdf"))] if pdf else [])
        written.extend(paths)
        if report is not None:
            report(case, derivation, paths)
    combined = outdir / "seed_derivations.tex"
    files.write(combined, to_latex(everything, title="matcalc: the seed derivations"))
    written.append(combined)
    if pdf:
        written.append(compile_pdf(combined.read_text(encoding="utf-8"), combined.with_suffix(".pdf")))
    return written

