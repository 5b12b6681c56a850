"""Every subcommand on hostile and malformed input: bad shapes, bad numbers, huge and deep
expressions under the work budget, bad specs and data, bad paths (a FIFO, links, a
directory, a read-only file, a missing directory).

Each case asserts what a user can rely on: exit code 2 (1 for a verification that fails),
exactly one line on stderr, no traceback, no "internal error", and no file in the working
directory created, changed or removed (a snapshot of tmp_path before and after, taken with
lstat, so a FIFO is never opened).

Most cases call ``cli.main`` in-process (the same code path, without a second of import per
case); the cases that need a real process — stdin, a FIFO read by another thread while the
command writes it, a command that would hang or exhaust memory on a regression — run the
console script in a subprocess with cwd = tmp_path.
"""
import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from specs import ols_spec

from matcalc.apps import cli

_SCRIPT = shutil.which("matcalc", path=os.path.dirname(sys.executable))
COMMAND = [_SCRIPT] if _SCRIPT else [sys.executable, "-m", "matcalc"]

SPEC = ols_spec()
CSV = "a,b,label\n1,2,3.1\n2,1,3.9\n0,1,1.2\n1,1,2.1\n"
SUM = ["sum(x)", "--wrt", "x", "--shape", "x=n,1"]
QUADRATIC = ["x @ A @ x.T", "--wrt", "x", "--shape", "x=1,n", "--shape", "A=n,n"]


# ---------------------------------------------------------------- snapshots

def snapshot(directory):
    """Every entry under ``directory``: its kind, permissions and contents (a hash), or the
    target of a link; read with lstat, never opening a FIFO or following a link."""
    entries = {}
    for root, dirs, names in os.walk(directory):
        for name in dirs + names:
            path = os.path.join(root, name)
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = hashlib.sha256(handle.read(1 << 20)).hexdigest() + f":{info.st_size}"
            else:
                content = None
            entries[os.path.relpath(path, directory)] = (kind, stat.S_IMODE(info.st_mode), content)
    return entries


def assert_one_clean_line(code, out, err, expected_code, fragment):
    assert code == expected_code, (code, out, err)
    lines = err.strip().splitlines()
    if expected_code == 1:   # a failed verification explains itself on stdout
        assert len(lines) <= 1 and "✗" in out, (out, err)
    else:
        assert len(lines) == 1, err
    assert "Traceback" not in err + out and "internal error" not in err, err
    assert fragment in (lines[0] if lines else out), (fragment, err)


# ---------------------------------------------------------------- the files a case starts from

def train_files(spec=SPEC, csv=CSV):
    def setup(path):
        (path / "ols.toml").write_text(spec)
        if csv is not None:
            (path / "ols.csv").write_bytes(csv if isinstance(csv, bytes) else csv.encode())
    return setup


def spec_with(before, after, **options):
    return train_files(SPEC.replace(before, after), **options)


def fifo(name):
    return lambda path: os.mkfifo(path / name)


def both(*setups):
    def setup(path):
        for s in setups:
            s(path)
    return setup


def regular(name, content=b"precious", mode=None):
    def setup(path):
        (path / name).write_bytes(content)
        if mode is not None:
            (path / name).chmod(mode)
    return setup


def link(name, target):
    return lambda path: (path / name).symlink_to(target)


def directory(name):
    return lambda path: (path / name).mkdir()


def sparse(name, size):
    def setup(path):
        with open(path / name, "wb") as handle:
            handle.truncate(size)
    return setup


def template(name, source):
    return lambda path: (path / name).write_text(source)


DEEP = "x"
for _ in range(12):
    DEEP = f"sigmoid(A @ {DEEP})"

# (case id, arguments, set-up of tmp_path, exit code, a fragment of the one line)
CASES = [
    # derive: expressions, shapes, budgets
    ("derive-parse-error", ["derive", "x @@ A", "--wrt", "x", "--shape", "x=1,n", "--shape", "A=n,n"],
     None, 2, "column"),
    ("derive-not-scalar", ["derive", "x @ x.T", "--wrt", "x", "--shape", "x=n,1"], None, 2, "scalar"),
    ("derive-shape-mismatch", ["derive", "sum(x @ A)", "--wrt", "x", "--shape", "x=n,1", "--shape", "A=m,m"],
     None, 2, "error:"),
    ("derive-zero-dimension", ["derive", *SUM[:-1], "x=0,1"], None, 2, "at least 1"),
    ("derive-5000-digit-dimension", ["derive", *SUM[:-1], "x=" + "9" * 5000 + ",1"], None, 2,
     "(5000 digits) is too large"),
    ("derive-fraction-dimension", ["derive", *SUM[:-1], "x=1.5,1"], None, 2, "must be an int or a name"),
    ("derive-one-dimension", ["derive", *SUM[:-1], "x=n"], None, 2, "needs two dimensions"),
    ("derive-empty", ["derive", "  ", "--wrt", "x", "--shape", "x=n,1"], None, 2, "empty"),
    ("derive-unknown-wrt", ["derive", *SUM[:2], "y", *SUM[3:]], None, 2, "--wrt y: no such symbol"),
    ("derive-huge", ["derive", "+".join(["x"] * 20000), "--wrt", "x", "--shape", "x=n,1"], None, 2, "too long"),
    ("derive-deep", ["derive", "sum(" + "exp(" * 200 + "x" + ")" * 201, "--wrt", "x", "--shape", "x=n,1"],
     None, 2, "nested too deeply"),
    ("derive-over-budget", ["derive", f"sum({DEEP})", "--wrt", "x", "--shape", "x=n,1", "--shape", "A=n,n",
                            "--hessian", "--budget", "0.3"], None, 2, "work budget exceeded"),
    ("derive-bad-budget", ["derive", *SUM, "--budget", "-3"], None, 2, "--budget takes a number"),
    # derive: templates
    ("template-unknown", ["derive", *SUM, "--latex", "out.tex", "--template", "nonexistent"], None, 2,
     "no template named 'nonexistent'"),
    ("template-sandbox", ["derive", *SUM, "--latex", "out.tex", "--template", "./t.tex.j2"],
     template("t.tex.j2", "<%= derivations.__class__.__mro__ %>"), 2, "unsafe"),
    ("template-range", ["derive", *SUM, "--latex", "out.tex", "--template", "./t.tex.j2"],
     template("t.tex.j2", "<% for a in range(10**6) %><% for b in range(10**6) %>x<% endfor %><% endfor %>"),
     2, "Range too big"),
    ("template-nested-loops", ["derive", *SUM, "--latex", "out.tex", "--template", "./t.tex.j2", "--budget", "0.5"],
     template("t.tex.j2", "<% for a in range(10**5) %><% for b in range(10**5) %><% endfor %><% endfor %>"),
     2, "work budget exceeded while rendering"),
    ("template-syntax", ["derive", *SUM, "--latex", "out.tex", "--template", "./t.tex.j2"],
     template("t.tex.j2", "<% for d in derivations %"), 2, "t.tex.j2, line 1"),
    ("template-fifo", ["derive", *SUM, "--latex", "out.tex", "--template", "./t.tex.j2"], fifo("t.tex.j2"), 2,
     "is a FIFO"),
    ("template-dir-missing", ["derive", *SUM, "--latex", "out.tex", "--template-dir", "nowhere"], None, 2,
     "does not exist"),
    # derive: outputs
    ("latex-to-a-directory", ["derive", *SUM, "--latex", "sub"], directory("sub"), 2, "is a directory"),
    ("latex-missing-directory", ["derive", *SUM, "--latex", "nodir/out.tex"], None, 2, "does not exist"),
    ("latex-read-only", ["derive", *SUM, "--latex", "out.tex"], regular("out.tex", mode=0o444), 2, "read-only"),
    ("latex-dangling-link", ["derive", *SUM, "--latex", "out.tex"], link("out.tex", "missing.tex"), 2,
     "symbolic link to missing.tex, which does not exist"),
    ("latex-link-to-read-only", ["derive", *SUM, "--markdown", "out.md"],
     both(regular("real.md", mode=0o444), link("out.md", "real.md")), 2, "read-only"),
    ("latex-fifo-nobody-reads", ["derive", *SUM, "--latex", "out.fifo"], fifo("out.fifo"), 2,
     "FIFO that no process is reading"),
    ("pdf-to-stdout", ["derive", *SUM, "--pdf", "-"], None, 2, "needs a file name"),
    # verify
    ("verify-wrong-claim", ["verify", *QUADRATIC, "--expected", "2 * x @ A"], None, 1, "✗"),
    ("verify-tolerance-nan", ["verify", *QUADRATIC, "--expected", "2 * x @ A", "--tolerance", "nan"], None, 2,
     "--tolerance: expected a finite number above 0"),
    ("verify-tolerance-negative", ["verify", *QUADRATIC, "--expected", "2 * x @ A", "--tolerance", "-1"], None, 2,
     "--tolerance"),
    ("verify-tolerance-inf", ["verify", *QUADRATIC, "--expected", "2 * x @ A", "--tolerance", "inf"], None, 2,
     "--tolerance"),
    ("verify-tolerance-text", ["verify", *QUADRATIC, "--expected", "2 * x @ A", "--tolerance", "tight"], None, 2,
     "--tolerance"),
    ("verify-seed-negative", ["verify", *QUADRATIC, "--expected", "2 * x @ A", "--seed", "-1"], None, 2,
     "--seed: expected an integer of at least 0"),
    ("verify-huge-dimensions", ["verify", "x @ A @ x.T", "--wrt", "x", "--expected", "x @ (A + A.T)",
                                "--shape", "x=1,100000", "--shape", "A=100000,100000"], None, 2,
     "A is 100000×100000 here"),
    ("verify-no-claim", ["verify", *QUADRATIC], None, 2, "--expected"),
    ("verify-claim-parse-error", ["verify", *QUADRATIC, "--expected", "x @ (A +"], None, 2, "ends too early"),
    ("verify-claim-wrong-shape", ["verify", *QUADRATIC, "--expected", "A"], None, 1, "✗"),
    # serve (refused before any server starts)
    ("serve-budget-too-large", ["serve", "--budget", "4000"], None, 2,
     "--budget: expected a finite number above 0 and at most 3600, not '4000'"),
    ("serve-budget-none", ["serve", "--budget", "none"], None, 2, "--budget: expected a finite number"),
    ("serve-port-too-large", ["serve", "--port", "70000"], None, 2, "a port is at most 65535"),
    # export
    ("export-bad-function-name", ["export", *SUM, "--function-name", "1abc", "-o", "out.py"], None, 2,
     "function_name"),
    ("export-not-scalar", ["export", "x", "--wrt", "x", "--shape", "x=n,1", "-o", "out.py"], None, 2, "scalar"),
    ("export-bad-dtype", ["export", *SUM, "--dtype", "float16"], None, 2, "--dtype"),
    ("export-to-a-directory", ["export", *SUM, "-o", "."], None, 2, "is a directory"),
    ("export-read-only", ["export", *SUM, "-o", "out.py"], regular("out.py", mode=0o444), 2, "read-only"),
    ("export-dangling-link", ["export", *SUM, "-o", "out.py"], link("out.py", "nowhere/out.py"), 2,
     "symbolic link"),
    ("export-fifo-nobody-reads", ["export", *SUM, "-o", "out.fifo"], fifo("out.fifo"), 2, "no process is reading"),
    # train: the spec file
    ("train-no-spec", ["train", "missing.toml"], None, 2, "no such spec file"),
    ("train-spec-fifo", ["train", "spec.toml"], fifo("spec.toml"), 2, "is a FIFO"),
    ("train-spec-directory", ["train", "spec.toml"], directory("spec.toml"), 2, "is a directory"),
    ("train-spec-not-toml", ["train", "ols.toml"], spec_with("[shapes]", "[shapes"), 2, "not valid TOML"),
    ("train-unknown-key", ["train", "ols.toml"], spec_with("[train]", "[train]\nlearning_rate = 1"), 2,
     "unknown key [train] 'learning_rate'"),
    # train: every field with its type and range (issue 12, items 11 and 12)
    ("train-epochs-text", ["train", "ols.toml"], spec_with("epochs = 20", 'epochs = "abc"'), 2, "[train] epochs"),
    ("train-epochs-fraction", ["train", "ols.toml"], spec_with("epochs = 20", "epochs = 2.5"), 2, "[train] epochs"),
    ("train-tol-text", ["train", "ols.toml"], spec_with("[train]", '[train]\ntol = "x"'), 2, "[train] tol"),
    ("train-lr-text", ["train", "ols.toml"], spec_with("lr = 0.1", 'lr = "0.01"'), 2, "[train] lr"),
    ("train-lr-negative", ["train", "ols.toml"], spec_with("lr = 0.1", "lr = -1"), 2, "[train] lr"),
    ("train-batch-fraction", ["train", "ols.toml"], spec_with("[train]", "[train]\nbatch_size = 2.5"), 2,
     "[train] batch_size"),
    ("train-seed-fraction", ["train", "ols.toml"], spec_with("[train]", "[train]\nseed = 1.5"), 2, "[train] seed"),
    ("train-momentum-list", ["train", "ols.toml"],
     spec_with('optimizer = "gd"', 'optimizer = "momentum"\nmomentum = [1]'), 2, "[train] momentum"),
    ("train-test-fraction-text", ["train", "ols.toml"], spec_with("[data]", '[data]\ntest_fraction = "abc"'), 2,
     "[data] test_fraction"),
    ("train-test-fraction-negative", ["train", "ols.toml"], spec_with("[data]", "[data]\ntest_fraction = -0.1"),
     2, "[data] test_fraction"),
    ("train-header-text", ["train", "ols.toml"], spec_with("[data]", '[data]\nheader = "yes"'), 2, "[data] header"),
    ("train-bias-number", ["train", "ols.toml"], spec_with("bias_column = true", "bias_column = 3"), 2,
     "[data] bias_column"),
    ("train-bad-loss", ["train", "ols.toml"], spec_with("X @ w", "X @ q"), 2, "unknown name 'q'"),
    # train: the data
    ("train-latin-1-csv", ["train", "ols.toml"], train_files(csv=b"a,label\n1,2\n\xe9,3\n"), 2, "not UTF-8 text"),
    ("train-target-only-csv", ["train", "ols.toml"], train_files(csv="label\n1\n2\n"), 2, "only the target column"),
    ("train-csv-missing", ["train", "ols.toml"], train_files(csv=None), 2, "no such CSV file"),
    ("train-csv-fifo", ["train", "ols.toml"], both(train_files(csv=None), fifo("ols.csv")), 2,
     "is a FIFO; matcalc reads only regular files"),
    ("train-csv-directory", ["train", "ols.toml"], both(train_files(csv=None), directory("ols.csv")), 2,
     "is a directory"),
    ("train-csv-over-the-limit", ["train", "ols.toml"], both(train_files(csv=None), sparse("ols.csv", 3 << 30)),
     2, "larger than the limit of 1 GiB"),
    ("train-csv-over-a-raised-limit", ["train", "ols.toml", "--max-csv-bytes", "10"], train_files(), 2,
     "larger than the limit of 10 bytes"),
    # train: options and outputs, all checked before training starts
    ("train-epochs-option", ["train", "ols.toml", "--epochs", "0"], train_files(), 2, "--epochs"),
    ("train-lr-option", ["train", "ols.toml", "--lr", "nan"], train_files(), 2, "--lr"),
    ("train-seed-option", ["train", "ols.toml", "--seed", "-1"], train_files(), 2, "--seed"),
    ("train-size-option", ["train", "ols.toml", "--max-csv-bytes", "lots"], train_files(), 2, "--max-csv-bytes"),
    ("train-output-exists", ["train", "ols.toml"], both(train_files(), regular("params.npz")), 2,
     "params.npz exists; choose another name, or pass --force"),
    ("train-output-link-exists", ["train", "ols.toml", "-o", "out.npz"],
     both(train_files(), regular("real.npz"), link("out.npz", "real.npz")), 2, "exists"),
    ("train-output-read-only", ["train", "ols.toml", "--force"],
     both(train_files(), regular("params.npz", mode=0o444)), 2, "read-only"),
    ("train-output-missing-directory", ["train", "ols.toml", "-o", "nodir/p.npz"], train_files(), 2,
     "does not exist"),
    ("train-loss-curve-exists", ["train", "ols.toml", "-o", "p.npz", "--loss-curve", "loss.csv"],
     both(train_files(), regular("loss.csv")), 2, "--loss-curve loss.csv exists"),
    ("train-same-outputs", ["train", "ols.toml", "-o", "p.npz", "--loss-curve", "p.npz"], train_files(), 2,
     "both name p.npz"),
    ("train-diverges", ["train", "ols.toml", "--no-progress"],
     spec_with('optimizer = "gd"\nlr = 0.1', 'optimizer = "adam"\nlr = 1e6'), 2, "diverged"),
]


@pytest.mark.parametrize("argv, setup, expected_code, fragment",
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_hostile_input_in_process(tmp_path, monkeypatch, capsys, argv, setup, expected_code, fragment):
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as exit:   # argparse's own errors
        code = exit.code
    out, err = capsys.readouterr()
    assert_one_clean_line(code, out, err, expected_code, fragment)
    assert snapshot(tmp_path) == before


def test_the_table_covers_every_subcommand():
    [commands] = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert {case[1][0] for case in CASES} == set(commands.choices) == {"derive", "verify", "export", "train", "serve"}


# ---------------------------------------------------------------- in a real process

def run(*args, cwd, stdin=None, timeout=60):
    done = subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


@pytest.mark.parametrize("args, stdin, setup, fragment", [
    pytest.param(["derive", "-", "--wrt", "x", "--shape", "x=1,n"], b"x @@ x", None, "column", id="stdin-parse-error"),
    # on a regression each of these would hang or exhaust memory, not fail: the timeout guards
    pytest.param(["train", "ols.toml"], None, both(train_files(csv=None), fifo("ols.csv")), "is a FIFO",
                 id="csv-fifo"),
    pytest.param(["verify", "x @ A @ x.T", "--wrt", "x", "--expected", "x @ (A + A.T)", "--shape", "x=1,100000",
                  "--shape", "A=100000,100000"], None, None, "entries", id="verify-huge"),
    pytest.param(["train", "ols.toml", "--no-progress"], None, spec_with("lr = 0.1", 'lr = "0.01"'),
                 '[train] lr must be a finite number above 0, not "0.01"', id="lr-text-before-training"),
])
def test_hostile_input_in_a_subprocess(tmp_path, args, stdin, setup, fragment):
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = run(*args, cwd=tmp_path, stdin=stdin)
    assert_one_clean_line(code, out, err, 2, fragment)   # one line: not even the "training …" note
    assert snapshot(tmp_path) == before


def test_export_writes_through_a_fifo_and_leaves_it_a_fifo(tmp_path):
    """The FIFO used to be replaced by a regular file (and its reader left waiting forever)."""
    os.mkfifo(tmp_path / "out.fifo")
    received = []

    def read():
        with open(tmp_path / "out.fifo", "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.2)   # the reader is waiting in open() long before the command gets to write
    code, _, err = run("export", *SUM, "-o", "out.fifo", cwd=tmp_path)
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(tmp_path / "out.fifo").st_mode)
    assert received and b"def loss_and_gradients" in received[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]


def test_export_through_a_link_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "module.py").write_text("old")
    (tmp_path / "module.py").symlink_to("real/module.py")
    code, _, err = run("export", *SUM, "-o", "module.py", cwd=tmp_path)
    assert code == 0, err
    assert os.readlink(tmp_path / "module.py") == "real/module.py"
    assert "def loss_and_gradients" in (tmp_path / "real" / "module.py").read_text()
    assert not [p for p in (tmp_path / "real").iterdir() if p.name.startswith(".")]


def test_train_replaces_an_existing_output_only_with_force(tmp_path):
    train_files()(tmp_path)
    (tmp_path / "params.npz").write_bytes(b"precious")
    code, _, err = run("train", "ols.toml", "--no-progress", cwd=tmp_path)
    assert code == 2 and "--force" in err and (tmp_path / "params.npz").read_bytes() == b"precious"
    code, _, err = run("train", "ols.toml", "--no-progress", "--force", cwd=tmp_path)
    assert code == 0, err
    assert set(np.load(tmp_path / "params.npz").files) == {"w", "loss_history"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_an_unreadable_spec_is_a_clean_error(tmp_path, monkeypatch, capsys):
    train_files()(tmp_path)
    (tmp_path / "ols.toml").chmod(0)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", "ols.toml"])
    out, err = capsys.readouterr()
    assert_one_clean_line(code, out, err, 2, "permission denied")
