"""The ``matcalc`` console script, driven in a subprocess as a user would run it.

Numbers the CLI produces are checked independently: the exported module against a
hand-written NumPy gradient and its own finite differences, trained least-squares weights
against ``numpy.linalg.lstsq``, the iris classifier's saved parameters against a NumPy
re-computation of its loss.
"""
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import import_file as _import
from specs import ols_spec

import matcalc as mc
from matcalc.core.symbols import MatrixSymbol

_SCRIPT = shutil.which("matcalc", path=str(Path(sys.executable).parent))
COMMAND = [_SCRIPT] if _SCRIPT else [sys.executable, "-m", "matcalc"]
QUADRATIC = ["x @ A @ x.T", "--wrt", "x", "--shape", "x=1,n", "--shape", "A=n,n"]


def run(*args, cwd=None, stdin=None, command=None):
    done = subprocess.run([*(command or COMMAND), *map(str, args)], cwd=cwd, input=stdin, capture_output=True,
                          timeout=300, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def assert_one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def leftovers(directory):
    """Temporary files an atomic write would have left behind."""
    return [p.name for p in Path(directory).iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- basics

def test_console_script_is_installed():
    assert _SCRIPT is not None, "the matcalc console script is not next to the interpreter (pip install -e .)"


def test_version():
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"matcalc {mc.__version__}"


@pytest.mark.parametrize("command", ["derive", "verify", "export", "train", "serve"])
def test_every_subcommand_has_help_with_examples(command):
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "examples:" in out and f"matcalc {command}" in out.split("examples:")[1]


def test_no_command_is_a_usage_error():
    code, _, err = run()
    assert code == 2 and "derive" in err


def test_python_dash_m_works_too():
    code, out, _ = run(command=[sys.executable, "-m", "matcalc", "derive", *QUADRATIC])
    assert code == 0 and "∂f/∂x" in out


# ---------------------------------------------------------------- derive

def _library(text, shapes, wrt, kind="gradient", **options):
    """What the library itself says, for the CLI to print."""
    expr = mc.parse(text, shapes)
    symbols = {s.name: s for s in expr.atoms(MatrixSymbol)}
    return mc.to_text(mc.derive(expr, [symbols[w] for w in wrt], kind=kind, **options).results[symbols[wrt[0]]])


def test_derive_prints_the_gradient():
    code, out, err = run("derive", *QUADRATIC)
    assert code == 0, err
    expected = _library("x @ A @ x.T", {"x": (1, "n"), "A": ("n", "n")}, ["x"])
    assert f"∂f/∂x = {expected}" in out.splitlines()
    assert expected == "x (A + Aᵀ)"       # seed 000: ∂(xAxᵀ)/∂x = x(A + Aᵀ)


def test_derive_several_variables_and_steps():
    code, out, _ = run("derive", *QUADRATIC, "--wrt", "A", "--steps")
    assert code == 0
    assert "∂f/∂A = xᵀ x" in out          # seed 000: ∂(xAxᵀ)/∂A = xᵀx
    assert "steps:" in out and "product rule" in out


def test_derive_jacobian_in_both_layouts():
    args = ["x @ A + b", "--wrt", "x", "--jacobian", "--shape", "x=1,n", "--shape", "A=n,m", "--shape", "b=1,m"]
    code, out, _ = run("derive", *args)
    assert code == 0 and "∂y/∂x = Aᵀ" in out      # seed 000: ∂(xA + b)/∂x = Aᵀ
    code, out, _ = run("derive", *args, "--layout", "denominator")
    assert code == 0 and "(denominator layout) = A" in out


def test_derive_hessian():
    code, out, _ = run("derive", "norm(A @ x - b)**2", "--wrt", "x", "--hessian",
                       "--shape", "A=m,n", "--shape", "x=n,1", "--shape", "b=m,1")
    assert code == 0 and "∂²f/∂x² = 2 Aᵀ A" in out


def test_derive_with_respect_to_a_scalar():
    # a bias b broadcast over the residual: ∂/∂b ‖Xw + b1 − y‖² = 2 sum(Xw + b1 − y)
    loss = ["sum((X @ w + b - y)**2)", "--shape", "X=N,d", "--shape", "w=d,1", "--shape", "y=N,1", "--scalar", "b"]
    code, out, err = run("derive", *loss, "--wrt", "b")
    assert code == 0, err
    assert "∂f/∂b = 2·sum(X w + b 𝟏 − y)" in out.splitlines()
    code, out, err = run("derive", *loss, "--wrt", "b", "--hessian")
    assert code == 0 and "∂²f/∂b² = 2·N" in out.splitlines(), err
    code, out, err = run("derive", "exp(b * x)", "--shape", "x=n,1", "--scalar", "b", "--wrt", "b", "--jacobian")
    assert code == 0 and "∂y/∂b = exp(b x) ⊙ x" in out.splitlines(), err
    code, _, err = run("derive", *loss, "--scalar", "c", "--wrt", "c")
    assert_one_line_error(code, err, "does not contain c")


def test_derive_reads_the_expression_from_stdin():
    code, out, _ = run("derive", "-", *QUADRATIC[1:], stdin=b"x @ A @ x.T\n")
    assert code == 0 and "x (A + Aᵀ)" in out


def test_derive_writes_latex_and_markdown(tmp_path):
    code, out, err = run("derive", *QUADRATIC, "--latex", "d.tex", "--markdown", "d.md", cwd=tmp_path)
    assert code == 0, err
    tex, md = (tmp_path / "d.tex").read_text(), (tmp_path / "d.md").read_text()
    assert r"\begin{document}" in tex and r"\end{document}" in tex and "A^{\\top}" in tex
    assert "$$" in md
    assert "wrote d.tex" in err and not leftovers(tmp_path)
    assert oct((tmp_path / "d.tex").stat().st_mode & 0o777) != oct(0o600)   # not left private by mkstemp


def test_derive_latex_to_stdout_is_only_the_document():
    code, out, _ = run("derive", "trace(A @ X)", "--wrt", "X", "--shape", "A=m,n", "--shape", "X=n,m",
                       "--latex", "-", "--template", "fragment")
    assert code == 0
    assert r"\begin{align*}" in out and "∂f/∂X" not in out and r"\begin{document}" not in out


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_derive_pdf(tmp_path):
    code, _, err = run("derive", *QUADRATIC, "--pdf", "d.pdf", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")
    assert not leftovers(tmp_path)


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_a_failed_pdf_leaves_the_old_file_alone(tmp_path):
    (tmp_path / "broken.tex.j2").write_text(r"\documentclass{article}\begin{document}\undefinedmacro\end{document}")
    (tmp_path / "d.pdf").write_bytes(b"precious")
    code, _, err = run("derive", *QUADRATIC, "--pdf", "d.pdf", "--template", "broken", "--template-dir", ".",
                       cwd=tmp_path)
    assert_one_line_error(code, err, "pdflatex")
    assert (tmp_path / "d.pdf").read_bytes() == b"precious"
    assert not leftovers(tmp_path)


# ---------------------------------------------------------------- errors

def test_parse_error_is_one_line_pointing_at_the_culprit(tmp_path):
    (tmp_path / "d.tex").write_text("precious")
    code, out, err = run("derive", "x @ Q", "--wrt", "x", "--shape", "x=1,n", "--latex", "d.tex", cwd=tmp_path)
    assert_one_line_error(code, err, "unknown name 'Q'", "column 5", "x @ »Q«")
    assert out == ""
    assert (tmp_path / "d.tex").read_text() == "precious" and not leftovers(tmp_path)


def test_shape_error_points_at_the_operator():
    code, _, err = run("derive", "x @ A", "--wrt", "x", "--shape", "x=1,n", "--shape", "A=m,n")
    assert_one_line_error(code, err, "cannot multiply x (1×n) by A (m×n)", "x »@« A")


@pytest.mark.parametrize("args, fragment", [
    (["x @ A @ x.T", "--shape", "x=1,n", "--shape", "A=n,n"], "--wrt"),
    (["x @ A @ x.T", "--wrt", "y", "--shape", "x=1,n", "--shape", "A=n,n"], "no such symbol"),
    (["x @ x.T", "--wrt", "A", "--shape", "x=1,n", "--shape", "A=n,n"], "does not contain A"),
    (["x @ A", "--wrt", "x", "--shape", "x=1", "--shape", "A=n,n"], "two dimensions"),
    (["x @ A", "--wrt", "x", "--shape", "x1,n"], "NAME=ROWS,COLS"),
    (["x", "--wrt", "x", "--shape", "x=1,n", "--hessian", "--jacobian"], "not allowed with"),
    (["x", "--wrt", "x", "--shape", "x=1,n", "--layout", "sideways"], "invalid choice"),
    (["x @ A @ x.T", "--wrt", "x", "--shape", "x=1,n", "--shape", "A=n,n", "--latex", "no/such/dir/d.tex"],
     "does not exist"),
])
def test_usage_errors_exit_2_in_one_line(args, fragment):
    code, _, err = run("derive", *args)
    assert_one_line_error(code, err, fragment)


def test_debug_shows_the_traceback():
    code, _, err = run("derive", "x @ Q", "--wrt", "x", "--shape", "x=1,n", "--debug")
    assert code != 0 and "Traceback" in err and "ParseError" in err


# ---------------------------------------------------------------- verify

def test_verify_a_correct_formula_exits_0():
    code, out, _ = run("verify", *QUADRATIC[:1], "--expected", "x @ (A + A.T)", *QUADRATIC[1:])
    assert code == 0 and "holds" in out.splitlines()[0]


def test_verify_the_common_misquote_exits_1_and_says_why():
    code, out, _ = run("verify", "x.T @ A @ x", "--wrt", "x", "--expected", "2 * A @ x",
                       "--shape", "x=n,1", "--shape", "A=n,n")
    assert code == 1
    assert "holds only for symmetric A" in out and "counterexample" in out
    code, out, _ = run("verify", "x.T @ A @ x", "--wrt", "x", "--expected", "2 * A @ x", "--symmetric", "A",
                       "--shape", "x=n,1", "--shape", "A=n,n")
    assert code == 0


def test_verify_a_claim_of_the_wrong_shape_exits_1():
    code, out, _ = run("verify", *QUADRATIC[:1], "--expected", "(A + A.T) @ x.T", *QUADRATIC[1:])
    assert code == 1 and "wrong shape" in out


def test_verify_needs_a_claim():
    code, _, err = run("verify", *QUADRATIC)
    assert_one_line_error(code, err, "--expected")


def test_verify_catalogue_entry():
    from matcalc.apps.catalogue import entries
    entry = next(e for e in entries() if e.expect == "holds" and not e.known_issue)
    code, out, _ = run("verify", "--catalogue", "--only", entry.id)
    assert code == 0 and entry.id in out and "1 identities" in out
    code, _, err = run("verify", "--catalogue", "--only", "no-such-identity")
    assert_one_line_error(code, err, "no catalogue entry")


# ---------------------------------------------------------------- export

def test_export_writes_a_working_numpy_module(tmp_path):
    code, _, err = run("export", "norm(X @ w - y)**2 / n", "--wrt", "w", "--shape", "X=n,d",
                       "--shape", "w=d,1", "--shape", "y=n,1", "-o", "ols.py", cwd=tmp_path)
    assert code == 0, err
    module = _import(tmp_path / "ols.py")
    rng = np.random.default_rng(1)
    X, w, y = rng.standard_normal((7, 3)), rng.standard_normal((3, 1)), rng.standard_normal((7, 1))
    loss, gradients = module.loss_and_gradients(X=X, y=y, w=w)
    gradient = gradients[0] if isinstance(gradients, (list, tuple)) else gradients
    np.testing.assert_allclose(float(np.ravel(loss)[0]), np.sum((X @ w - y) ** 2) / 7, rtol=1e-12)
    np.testing.assert_allclose(gradient, 2 / 7 * X.T @ (X @ w - y), rtol=1e-10)   # ∇‖Xw − y‖²/n
    errors = module.check_gradient(X=X, y=y, w=w)
    assert max(np.ravel(list(errors.values()) if isinstance(errors, dict) else errors)) < 1e-6


def test_export_to_stdout():
    code, out, _ = run("export", "sum(exp(X @ w))", "--wrt", "w", "--shape", "X=n,d", "--shape", "w=d,1")
    assert code == 0 and out.startswith('"""') and "import numpy as np" in out


# ---------------------------------------------------------------- train

OLS_SPEC = ols_spec(lr=0.2, epochs=3000)


def test_train_least_squares_on_a_csv_reaches_the_closed_form(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((40, 3))
    target = features @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(40)
    rows = ["a,b,c,label"] + [",".join(f"{v:.17g}" for v in (*f, t)) for f, t in zip(features, target)]
    (tmp_path / "ols.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "ols.toml").write_text(OLS_SPEC)
    code, out, err = run("train", "ols.toml", "-o", "ols.npz", "--loss-curve", "loss.csv", "--no-progress",
                         cwd=tmp_path)
    assert code == 0, err
    saved = np.load(tmp_path / "ols.npz")
    design = np.hstack([np.ones((40, 1)), features])
    closed_form, *_ = np.linalg.lstsq(design, target, rcond=None)       # ŵ = (XᵀX)⁻¹Xᵀy
    np.testing.assert_allclose(saved["w"].ravel(), closed_form, rtol=1e-6)
    history = saved["loss_history"]
    assert len(history) == 3000 or "relative" in out
    assert history[0] > history[-1]
    curve = (tmp_path / "loss.csv").read_text().splitlines()
    assert curve[0] == "epoch,loss" and len(curve) == len(history) + 1
    assert float(curve[-1].split(",")[1]) == pytest.approx(history[-1])
    assert "final training loss" in out and not leftovers(tmp_path)


IRIS_SPEC = """
loss = "-sum(Y * log(softmax(X @ W + b))) / N"
wrt = ["W", "b"]
onehot = ["Y"]
predict = "softmax(X @ W + b)"
[shapes]
X = ["N", "d"]
Y = ["N", "K"]
W = ["d", "K"]
b = [1, "K"]
[data]
dataset = "load_iris"
inputs = "X"
target = "Y"
scale = "standard"
test_fraction = 0.2
[train]
optimizer = "adam"
lr = 0.05
epochs = 60
batch_size = 32
"""


def test_train_softmax_regression_on_iris(tmp_path):
    pytest.importorskip("sklearn")
    (tmp_path / "iris.toml").write_text(IRIS_SPEC)
    code, out, err = run("train", "iris.toml", "-o", "iris.npz", cwd=tmp_path)
    assert code == 0, err
    assert "training" in err                      # the progress bar (and the start note) on stderr
    saved = np.load(tmp_path / "iris.npz")
    W, b = saved["W"], saved["b"]
    assert W.shape == (4, 3) and b.shape == (1, 3)
    # the saved parameters classify the (standardised) data: recompute with NumPy alone
    from sklearn.datasets import load_iris
    features, labels = load_iris(return_X_y=True)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    logits = features @ W + b
    accuracy = np.mean(logits.argmax(axis=1) == labels)
    assert accuracy > 0.9
    assert "test accuracy" in out
    history = saved["loss_history"]
    assert len(history) == 60 and history[-1] < 0.5 * history[0]


def test_train_writes_npz_to_stdout(tmp_path):
    pytest.importorskip("sklearn")
    (tmp_path / "iris.toml").write_text(IRIS_SPEC.replace("epochs = 60", "epochs = 2"))
    code, out, err = run_binary("train", "iris.toml", "-o", "-", "--no-progress", cwd=tmp_path)
    assert code == 0, err
    assert set(np.load(io.BytesIO(out)).files) == {"W", "b", "loss_history"}
    assert "final training loss" in err            # the summary moves to stderr


def run_binary(*args, cwd=None):
    done = subprocess.run([*COMMAND, *args], cwd=cwd, capture_output=True, timeout=300)
    return done.returncode, done.stdout, done.stderr.decode("utf-8")


@pytest.mark.parametrize("change, fragment", [
    (lambda s: s.replace('wrt = ["w"]', 'wrt = ["w"]\nlearning_rate = 1'), "unknown key 'learning_rate'"),
    (lambda s: s.replace('csv = "ols.csv"', 'csv = "missing.csv"'), "no such CSV file"),
    (lambda s: s.replace('csv = "ols.csv"', 'dataset = "load_everything"'), '[data] dataset must be one of "load_diabetes"'),
    (lambda s: s.replace('csv = "ols.csv"', 'csv = "ols.csv"\ndataset = "load_iris"'), "needs exactly one of"),
    (lambda s: s.replace("X @ w", "X @ q"), "unknown name 'q'"),
    (lambda s: s.replace("[shapes]", "[shapes"), "not valid TOML"),
    (lambda s: s.replace('target = "y"', 'target = "z"'), "not a matrix in [shapes]"),
])
def test_bad_specs_are_one_line_errors_and_keep_old_outputs(tmp_path, change, fragment):
    (tmp_path / "ols.csv").write_text("a,label\n1,2\n2,4\n3,6\n")
    (tmp_path / "ols.toml").write_text(change(OLS_SPEC))
    (tmp_path / "params.npz").write_bytes(b"precious")
    code, _, err = run("train", "ols.toml", "--no-progress", cwd=tmp_path)
    assert_one_line_error(code, err, fragment)
    assert (tmp_path / "params.npz").read_bytes() == b"precious"
    assert not leftovers(tmp_path)


# ---------------------------------------------------------------- names and detail

MLP = ["-sum(Y * log(softmax(sigmoid(X @ W1 + b1) @ W2 + b2))) / N", "--wrt", "W1", "--wrt", "b2",
       "--onehot", "Y", "--shape", "X=N,d", "--shape", "Y=N,K", "--shape", "W1=d,h", "--shape", "b1=1,h",
       "--shape", "W2=h,K", "--shape", "b2=1,K"]


def test_derive_prints_named_intermediates_once():
    code, out, err = run("derive", *MLP)
    assert code == 0, err
    assert out.count("softmax(") == 1 and out.count("σ(") == 1   # each layer written once
    lines = out.splitlines()
    assert lines.index("f = −sum(Y ⊙ log(Ŷ))/N") > lines.index("Ŷ = softmax(Z₂)")


def test_derive_names_what_the_user_names():
    code, out, err = run("derive", *MLP, "--name", "H=sigmoid(X @ W1 + b1)")
    assert code == 0, err
    assert "H = σ(Z₁)" in out.splitlines() and "Z₂ = H W₂ + 𝟏 b₂" in out.splitlines()
    code, out, err = run("derive", *MLP, "--name", "H=sigmoid(X @ W1)", "--latex", "-")
    assert_one_line_error(code, err, "--name H", "does not occur")
    code, out, err = run("derive", *MLP, "--name", "W2=sigmoid(X @ W1 + b1)")
    assert_one_line_error(code, err, "already used")
    code, out, err = run("derive", *MLP, "--name", "sigmoid(X @ W1 + b1)")
    assert_one_line_error(code, err, "--name takes NAME=EXPR")


def test_derive_detail_levels_in_documents():
    code, textbook, err = run("derive", *MLP, "--latex", "-", "--template", "fragment")
    assert code == 0, err
    code, full, err = run("derive", *MLP, "--latex", "-", "--template", "fragment", "--detail", "full")
    assert code == 0, err
    assert r"\text{constant factor}" in full and r"\text{constant factor}" not in textbook
    code, _, err = run("derive", *MLP, "--detail", "some")
    assert code == 2 and "--detail" in err
