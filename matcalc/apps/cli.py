"""The ``matcalc`` console script: arguments in, calls to the library, files out.

    matcalc derive "x @ A @ x.T" --wrt x --shape x=1,n --shape A=n,n
    matcalc verify "x @ A @ x.T" --wrt x --expected "2 * x @ A" --shape x=1,n --shape A=n,n
    matcalc export "norm(X @ w - y)**2" --wrt w --shape X=n,d --shape w=d,1 --shape y=n,1 -o ols.py
    matcalc train spec.toml -o params.npz
    matcalc serve        # the derivation page in the browser, at http://127.0.0.1:8765/

Conventions: exit code 0 on success, 1 when a verification fails, 2 for bad usage or
input; an error is one line on stderr (a traceback only with ``--debug``); files are
written through :mod:`matcalc.files` (atomically: a temporary file in the same directory,
then ``os.replace``), so a failed run never leaves a half-written or clobbered file, and a
FIFO, a device or a link is never replaced by a regular file; ``-`` means stdout.

This module does no mathematics: it reads text with :func:`matcalc.parse` and calls the
library's public functions.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import math
import sys
from pathlib import Path

from .. import files
from ..core import budget as _budget
from ..errors import MatcalcError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(MatcalcError):
    """Bad command-line input that argparse cannot see (a malformed --shape, a bad spec)."""


# ================================================================ output

def write_output(path, data, *, binary=False, overwrite=True, what="output"):
    """Write ``data`` to ``path`` (see :mod:`matcalc.files` for what each kind of path
    gets), or to stdout for ``-``."""
    if str(path) == "-":
        if binary:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data if data.endswith("\n") else data + "\n")
        return
    files.write(path, data, overwrite=overwrite, what=what, replace_with="pass --force")


def _check_outputs(*paths):
    """Refuse, before any work, an output that could not be written (see :mod:`matcalc.files`)."""
    for path in paths:
        if path is not None and path != "-":
            files.check_output(path)


def _say(message):
    """A progress note for the user, on stderr so stdout stays clean for results."""
    print(message, file=sys.stderr)


# ================================================================ reading expressions

def parse_shape(text):
    """``"x=1,n"`` → ``("x", (1, "n"))``; ``"lam="`` → ``("lam", ())`` (a scalar)."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise UsageError(f"--shape takes NAME=ROWS,COLS (e.g. x=1,n), got {text!r}")
    value = value.strip().strip("()")
    if not value:
        return name, ()
    parts = [p.strip() for p in value.replace("×", ",").split(",")]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--shape {name}= needs two dimensions ROWS,COLS (e.g. {name}=1,n), got {value!r}")
    for part in parts:
        if part.isdigit() and len(part) > MAX_DIMENSION_DIGITS:
            raise UsageError(f"--shape {name}=: the dimension {part[:12]}… ({len(part)} digits) is too large; "
                             f"a number has at most {MAX_DIMENSION_DIGITS} digits (or use a name such as n)")
    return name, tuple(int(p) if p.isdigit() else p for p in parts)


MAX_DIMENSION_DIGITS = 18
"""A numeric dimension stays below 10¹⁸ (NumPy's sizes are 64-bit)."""


def _names(values):
    """Repeated and comma-separated names: ``--onehot Y --onehot Z,W`` → ``["Y", "Z", "W"]``."""
    return [n.strip() for value in values or () for n in value.split(",") if n.strip()]


def _read_text(text):
    """The expression itself, or stdin for ``-``."""
    return sys.stdin.read().strip() if text == "-" else text


class _Declarations:
    """The shapes and assumptions given with --shape, --scalar, --symmetric, … ."""

    def __init__(self, args):
        self.shapes = {}
        for item in args.shape or ():
            name, shape = parse_shape(item)
            if name in self.shapes and self.shapes[name] != shape:
                raise UsageError(f"--shape gives {name} two different shapes")
            self.shapes[name] = shape
        for name in _names(args.scalar):
            self.shapes[name] = ()
        self.assumptions = {flag: _names(getattr(args, flag)) for flag in ("symmetric", "spd", "positive", "onehot", "binary")}

    def parse(self, text, what="expression"):
        from .parse import parse
        if not text.strip():
            raise UsageError(f"the {what} is empty")
        return parse(text, self.shapes, **self.assumptions)

    def symbols(self):
        from .parse import declare
        return declare(self.shapes, **self.assumptions)[0]

    def variables(self, names, expr):
        """The symbols to differentiate with respect to (matrices and scalars), checked
        against the expression."""
        from ..core.symbols import matrix_symbols
        from ..core.walk import scalar_symbols
        if not names:
            raise UsageError("say which variables to differentiate with respect to: --wrt NAME")
        symbols = self.symbols()
        present = {str(s.name) for s in matrix_symbols(expr)} | {s.name for s in scalar_symbols([expr])}
        chosen = []
        for name in names:
            if name not in symbols:
                raise UsageError(f"--wrt {name}: no such symbol; declare it with --shape {name}=ROWS,COLS "
                                 f"or --scalar {name}")
            if name not in present:
                raise UsageError(f"--wrt {name}: the expression does not contain {name}")
            chosen.append(symbols[name])
        return chosen


def _add_declarations(parser):
    group = parser.add_argument_group("shapes and assumptions")
    group.add_argument("--shape", action="append", metavar="NAME=ROWS,COLS",
                       help="the shape of a symbol; dimensions are integers or names (repeat for each symbol)")
    group.add_argument("--scalar", action="append", metavar="NAME", help="declare a scalar symbol (e.g. a weight λ)")
    group.add_argument("--symmetric", action="append", metavar="NAME", help="NAME is a symmetric matrix")
    group.add_argument("--spd", action="append", metavar="NAME", help="NAME is symmetric positive definite")
    group.add_argument("--positive", action="append", metavar="NAME", help="every entry of NAME is positive")
    group.add_argument("--onehot", action="append", metavar="NAME", help="every row of NAME is one-hot (sums to 1)")
    group.add_argument("--binary", action="append", metavar="NAME", help="every entry of NAME is 0 or 1 (binary labels)")


# ================================================================ derive

def command_derive(args):
    from ..calculus.derive import derive
    from ..output.text import derivation_lines, to_text
    if args.pdf == "-":
        raise UsageError("--pdf needs a file name (a PDF is not written to stdout)")
    _check_outputs(args.latex, args.markdown, args.html, args.pdf)
    declarations = _Declarations(args)
    function = declarations.parse(_read_text(args.expression))
    variables = declarations.variables(_names(args.wrt), function)
    kind = "hessian" if args.hessian else "jacobian" if args.jacobian else "gradient"
    derivation = derive(function, variables, kind=kind, layout=args.layout)

    names = _intermediate_names(args.name, declarations, derivation)
    documents = {"latex": args.latex, "markdown": args.markdown, "html": args.html}
    options = {"template_dir": args.template_dir, "bold_vectors": args.bold_vectors, "title": args.title,
               "names": names, "detail": args.detail}
    rendered = {}
    for fmt, path in documents.items():
        if path is not None:
            rendered[fmt] = _document(derivation, fmt, args.template, options)
    if args.pdf is not None:
        from ..output.render import write_pdf
        write_pdf(derivation, args.pdf, template=args.template or "article", **options)
        _say(f"wrote {args.pdf}")
    for fmt, text in rendered.items():
        write_output(documents[fmt], text)
        if documents[fmt] != "-":
            _say(f"wrote {documents[fmt]}")

    if "-" in documents.values():
        return EXIT_OK   # stdout carries the document; keep it clean
    for line in derivation_lines(derivation, names=names, function_name="y" if kind == "jacobian" else "f"):
        print(line)
    if args.steps:
        print("steps:")
        for number, step in enumerate(derivation.steps, 1):
            target = getattr(step.target, "name", None) or to_text(step.target)
            print(f"  {number:>2}. {step.rule} ({target}): {to_text(step.after)}")
    return EXIT_OK


def _intermediate_names(items, declarations, derivation) -> dict:
    """``--name A1="sigmoid(X @ W1 + b1)"``: {expression: "A1"} for every printer.  The
    expression must occur in the function or a derivative, and the name be a new one."""
    from ..core.symbols import check_name
    from ..output.naming import occurs
    from ..output.text import to_text
    names = {}
    for item in items or ():
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name or not text.strip():
            raise UsageError(f"--name takes NAME=EXPR, e.g. --name A1=\"sigmoid(X @ W1 + b1)\"; got {item!r}")
        check_name(name)
        if not name.isidentifier():
            raise UsageError(f"--name {name}: a name is a letter followed by letters, digits or _ (A1, G_2, Yhat)")
        expression = declarations.parse(text, what=f"expression named {name}")
        if not occurs(expression, [derivation.function, *derivation.results.values()]):
            raise UsageError(f"--name {name}: {to_text(expression)} does not occur in the function or its derivatives")
        if expression in names:
            raise UsageError(f"--name {name}: {to_text(expression)} is already named {names[expression]}")
        names[expression] = name
    return names


def _document(derivation, fmt, template, options):
    """The derivation as the document of one output option (--latex, --markdown, --html)."""
    if fmt == "html":
        from ..output.html import to_html
        return to_html(derivation, **options)
    from ..output.render import to_latex
    return to_latex(derivation, template=(template or "article") if fmt == "latex" else "markdown", **options)


# ================================================================ verify

def command_verify(args):
    from .catalogue import verify_catalogue
    from .verify import verify
    if args.catalogue:
        if args.expression is not None or args.expected is not None:
            raise UsageError("--catalogue checks the built-in identities; give no expression or --expected with it")
        only = _names(args.only)
        if only:
            from .catalogue import entries
            known = {entry.id for entry in entries()}
            unknown = [name for name in only if name not in known]
            if unknown:
                raise UsageError(f"no catalogue entry {unknown[0]!r}; known ids include {', '.join(sorted(known)[:8])}, …")
        _check_outputs(args.markdown)
        results = verify_catalogue(only or None, seed=args.seed, file=sys.stdout)
        if args.markdown is not None:
            from .catalogue import markdown_report
            write_output(args.markdown, markdown_report(results))
            if args.markdown != "-":
                _say(f"wrote {args.markdown}")
        failed = [r for r in results if r.diagnosis != r.entry.expect and not r.entry.known_issue]
        return EXIT_FAILED if failed else EXIT_OK
    if args.expression is None:
        raise UsageError("give the function to differentiate (or --catalogue)")
    if args.expected is None:
        raise UsageError("give the claimed derivative with --expected EXPR")
    wrt = _names(args.wrt)
    if len(wrt) != 1:
        raise UsageError("verify checks one derivative at a time: give exactly one --wrt NAME")
    declarations = _Declarations(args)
    function = declarations.parse(_read_text(args.expression))
    where = {}
    for item in args.where or ():
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"--where takes NAME=EXPR, got {item!r}")
        where[name.strip()] = declarations.parse(text, what=f"definition of {name.strip()}")
    kind = "hessian" if args.hessian else "jacobian" if args.jacobian else \
        "stationary" if args.stationary else "gradient"
    result = verify(function, wrt[0], _read_text(args.expected), kind=kind, layout=args.layout,
                    symmetric_convention=args.convention, tolerance=args.tolerance, seed=args.seed,
                    shapes=declarations.shapes, where=where or None, **declarations.assumptions)
    print(result.explain())
    return EXIT_OK if result.ok else EXIT_FAILED


# ================================================================ export

def command_export(args):
    from ..backends.export import export_numpy
    _check_outputs(args.output)
    declarations = _Declarations(args)
    loss = declarations.parse(_read_text(args.expression))
    variables = declarations.variables(_names(args.wrt), loss)
    source = export_numpy(loss, variables, None, dtype=args.dtype, function_name=args.function_name,
                          title=args.title)
    write_output(args.output, source)
    if args.output != "-":
        _say(f"wrote {args.output}")
    return EXIT_OK


# ================================================================ serve

def command_serve(args):
    """Serve the derivation page until interrupted (see :mod:`matcalc.apps.serve`)."""
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"matcalc serve needs {' and '.join(missing)}: pip install 'matcalc[serve]'")
    from .serve import Settings, run
    settings = Settings(workers=args.workers, seconds=args.budget)
    try:
        run(args.host, args.port, settings)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    except KeyboardInterrupt:   # Ctrl-C is how a server is stopped: after a clean shutdown
        _say("matcalc serve: stopped")
    return EXIT_OK


# ================================================================ train

def command_train(args):
    """Train as the spec says.  Everything that can be checked is checked before any work
    starts: every field of the spec and every option, the expressions, the data file (a
    regular file within the size limit) and the outputs (see the overwrite policy below)."""
    import numpy as np
    from ..backends.compile import compile as compile_expression
    from . import spec as specs
    from .parse import declare, parse
    from .train import Trainer
    spec = specs.load_spec(args.spec)
    spec_dir = Path(args.spec).resolve().parent
    settings = dict(spec.get("train", {}))
    for option in ("epochs", "lr", "seed", "batch_size"):
        if getattr(args, option) is not None:
            settings[option] = getattr(args, option)
    if args.max_csv_bytes is not None:
        spec["data"]["max_csv_bytes"] = args.max_csv_bytes
    seed = settings.get("seed", 0)
    shapes = {name: tuple(shape) for name, shape in spec["shapes"].items()}
    assumptions = {flag: spec.get(flag, []) for flag in ("symmetric", "spd", "positive", "onehot", "binary")}
    with _budget.limit(_budget_of(args), "parsing the spec"):
        symbols = declare(shapes, **assumptions)[0]
        loss = parse(spec["loss"], shapes, **assumptions)
        predict_expression = parse(spec["predict"], shapes, **assumptions) if "predict" in spec else None
    for name in spec["wrt"]:
        if name not in symbols or not hasattr(symbols[name], "shape"):
            raise UsageError(f"{args.spec}: wrt names {name!r}, which is not a matrix in [shapes]")
    specs.check_data_symbols(spec, symbols)
    specs.data_source(spec["data"], spec_dir)
    _check_train_outputs(args)

    parameters = [symbols[name] for name in spec["wrt"]]
    with _budget.limit(_budget_of(args), "deriving the gradients"):
        trainer = Trainer(loss, parameters, optimizer=settings.get("optimizer", "adam"), lr=settings.get("lr"),
                          momentum=settings.get("momentum"), beta1=settings.get("beta1"),
                          beta2=settings.get("beta2"), eps=settings.get("eps"),
                          dtype=settings.get("dtype", "float64"))
    if predict_expression is not None:
        with _budget.limit(_budget_of(args), "compiling the prediction"):
            predict = compile_expression(predict_expression)
    train_data, test_data, classes = specs.prepare_data(spec, symbols, spec_dir, spec["data"].get("seed", seed))
    if not args.no_progress:
        _say(f"training {', '.join(spec['wrt'])} on {len(next(iter(train_data.values())))} samples "
             f"({settings.get('optimizer', 'adam')}, {settings.get('epochs', 100)} epochs)")
    result = trainer.fit(train_data, epochs=settings.get("epochs", 100), batch_size=settings.get("batch_size"),
                         seed=seed, tol=settings.get("tol"), grad_tol=settings.get("grad_tol"),
                         progress=not args.no_progress, dims=spec.get("dims") or None)

    summary = [f"epochs: {result.epochs} ({result.reason})", f"final training loss: {result.final_loss:.6g}"]
    if test_data is not None:
        test_loss, _ = trainer.evaluate(test_data, result.params)
        summary.append(f"test loss: {float(np.asarray(test_loss).reshape(-1)[0]):.6g}")
    if predict_expression is not None:
        target_name = spec["data"]["target"]
        for split, arrays in (("train", train_data), ("test", test_data)):
            if arrays is None:
                continue
            inputs = {k: v for k, v in arrays.items() if k != target_name}
            predicted = np.asarray(predict(**inputs, **result.params, **_dims_for(predict, spec)))
            truth = arrays[target_name]
            if classes is not None:
                axis = 1 if truth.shape[0] != len(classes) or truth.shape[1] == len(classes) else 0
                accuracy = float(np.mean(predicted.argmax(axis=axis) == truth.argmax(axis=axis)))
                summary.append(f"{split} accuracy: {accuracy:.2%}")
            else:
                summary.append(f"{split} mean squared error: {float(np.mean((predicted - truth) ** 2)):.6g}")

    buffer = io.BytesIO()
    np.savez(buffer, **result.params, loss_history=np.asarray(result.history, dtype=float))
    write_output(args.output, buffer.getvalue(), binary=True, overwrite=args.force, what="-o")
    if args.output != "-":
        summary.append(f"wrote {args.output} (parameters {', '.join(spec['wrt'])} and loss_history)")
    if args.loss_curve is not None:
        _write_loss_curve(args.loss_curve, result, overwrite=args.force)
        if args.loss_curve != "-":
            summary.append(f"wrote {args.loss_curve}")
    report = sys.stderr if args.output == "-" else sys.stdout
    for line in summary:
        print(line, file=report)
    return EXIT_OK


def _check_train_outputs(args):
    """The overwrite policy of ``train``, applied before training: an existing output file
    (or a link) is replaced only with --force, and then as :mod:`matcalc.files` writes (never
    a read-only file); a FIFO or a character device is written through either way."""
    outputs = [("-o", args.output)] + ([("--loss-curve", args.loss_curve)] if args.loss_curve is not None else [])
    if len(outputs) == 2 and outputs[0][1] == outputs[1][1]:
        raise UsageError(f"-o and --loss-curve both name {'stdout' if args.output == '-' else args.output}")
    for option, path in outputs:
        if path != "-":
            files.check_output(path, overwrite=args.force, what=option, replace_with="pass --force")
    if args.loss_curve is not None and str(args.loss_curve).endswith(".png") \
            and importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--loss-curve *.png needs matplotlib: pip install 'matcalc[plot]' (or write the curve as .csv)")


def _dims_for(function, spec):
    free = {getattr(d, "name", str(d)) for d in getattr(function, "_free_dims", ())}
    return {k: v for k, v in (spec.get("dims") or {}).items() if k in free}


def _write_loss_curve(path, result, overwrite=True):
    if str(path).endswith(".png"):
        from .plot import plot_loss
        plot_loss(result.history, path, overwrite=overwrite, what="--loss-curve", replace_with="pass --force")
        return
    lines = ["epoch,loss"] + [f"{i},{loss!r}" for i, loss in enumerate(result.history, 1)]
    write_output(path, "\n".join(lines) + "\n", overwrite=overwrite, what="--loss-curve")


# ================================================================ the parser

EXAMPLES = {
    "derive": """examples:
  matcalc derive "x @ A @ x.T" --wrt x --shape x=1,n --shape A=n,n
  matcalc derive "x @ A + b" --wrt x --jacobian --shape x=1,n --shape A=n,m --shape b=1,m
  matcalc derive "norm(A @ x - b)**2" --wrt x --hessian --shape A=m,n --shape x=n,1 --shape b=m,1
  matcalc derive "-sum(Y * log(softmax(sigmoid(X @ W1 + b1) @ W2 + b2))) / N" \\
      --wrt W1 --wrt b1 --wrt W2 --wrt b2 --onehot Y --shape X=N,d --shape Y=N,K \\
      --shape W1=d,h --shape b1=1,h --shape W2=h,K --shape b2=1,K --pdf mlp.pdf
  matcalc derive "trace(A @ X)" --wrt X --shape A=m,n --shape X=n,m --latex - --template fragment""",
    "verify": """examples:
  matcalc verify "x @ A @ x.T" --wrt x --expected "x @ (A + A.T)" --shape x=1,n --shape A=n,n
  matcalc verify "x.T @ A @ x" --wrt x --expected "2 * A @ x" --shape x=n,1 --shape A=n,n   # exits 1
  matcalc verify "logdet(X)" --wrt X --expected "inv(X).T" --shape X=n,n
  matcalc verify --catalogue
exit status: 0 when the formula holds, 1 when it does not, 2 for bad input.""",
    "export": """examples:
  matcalc export "norm(X @ w - y)**2 / n" --wrt w --shape X=n,d --shape w=d,1 --shape y=n,1 -o ols.py
  matcalc export "-sum(Y * log(softmax(X @ W + b))) / N" --wrt W --wrt b --onehot Y \\
      --shape X=N,d --shape Y=N,K --shape W=d,K --shape b=1,K -o softmax_regression.py""",
    "train": """the spec (TOML):
  loss = "-sum(Y * log(softmax(X @ W + b))) / N"
  wrt = ["W", "b"]
  onehot = ["Y"]                          # also symmetric, spd, positive, binary: lists of names
  predict = "softmax(X @ W + b)"          # optional: reports accuracy (or squared error)
  [shapes]
  X = ["N", "d"]
  Y = ["N", "K"]
  W = ["d", "K"]
  b = [1, "K"]
  [dims]                                  # sizes the data does not fix (hidden layers)
  [data]
  dataset = "load_iris"                   # bundled with scikit-learn: load_diabetes, load_digits,
                                          # load_iris, load_breast_cancer, load_wine; or
                                          # csv = "data.csv" (relative to the spec) with
                                          # target_column = "label" (default: the last column)
  inputs = "X"                            # the symbol that receives the features
  target = "Y"                            # the symbol that receives the target (one-hot when it
                                          # has a column per class, else the values themselves)
  scale = "standard"                      # "none" (default), "standard" or "minmax"
  bias_column = false                     # prepend a column of ones to the features
  test_fraction = 0.2
  max_csv_bytes = 1073741824              # the largest CSV read (default 1 GiB; --max-csv-bytes)
  [train]
  optimizer = "adam"                      # "gd", "momentum" or "adam"
  lr = 0.05
  epochs = 200
  batch_size = 32                         # omit for full-batch gradient descent
  seed = 0
every field is checked (type and range) and the outputs too, before training starts; an
existing output file is replaced only with --force.
examples:
  matcalc train iris.toml -o iris.npz --loss-curve iris_loss.png
  matcalc train ols.toml --epochs 500 --no-progress --loss-curve -""",
    "serve": """examples:
  matcalc serve                  # then open http://127.0.0.1:8765/
  matcalc serve --port 0         # a free port; the URL is printed
every page runs under the work budget in a worker process, and its state is in its URL.""",
}


DEFAULT_BUDGET_SECONDS = 10.0
"""The command line's work budget: no short input keeps it busy for minutes."""


def _budget_seconds(text):
    if text.strip().lower() in ("none", "off", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"--budget takes a number of seconds or 'none', not {text!r}")
    return value


def _budget_of(args):
    """The budget the command runs under, as ``budget.limit`` takes it: seconds (with the
    default node limit), or False for none."""
    seconds = getattr(args, "budget", DEFAULT_BUDGET_SECONDS)
    return False if seconds is None else seconds


def _integer(minimum):
    """An argparse type: an integer of at least ``minimum``."""
    def convert(text):
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < minimum or len(text.strip()) > 30:
            raise argparse.ArgumentTypeError(f"expected an integer of at least {minimum}, not {text!r}")
        return value
    return convert


def _number(description, accepts):
    """An argparse type: a finite number that ``accepts``."""
    def convert(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accepts(value)):
            raise argparse.ArgumentTypeError(f"expected a finite number {description}, not {text!r}")
        return value
    return convert


def _port(text):
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    port = _integer(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {port}")
    return port


_SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _byte_count(text):
    """An argparse type: a positive number of bytes, with an optional binary suffix (4G, 500MiB)."""
    body = text.strip().upper().removesuffix("B").removesuffix("I")
    digits = body.rstrip("KMGT")
    suffix = body[len(digits):]
    if digits.isdecimal() and len(digits) < 20 and suffix in _SIZE_SUFFIXES and int(digits) > 0:
        return int(digits) * _SIZE_SUFFIXES[suffix]
    raise argparse.ArgumentTypeError(f"expected a number of bytes such as 2000000000, 500M or 4G, not {text!r}")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits with status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    from .._version import __version__
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    debug.add_argument("--budget", type=_budget_seconds, default=DEFAULT_BUDGET_SECONDS, metavar="SECONDS",
                       help=f"stop symbolic work (deriving, simplifying, rendering, compiling) after SECONDS "
                            f"or {_budget.DEFAULT.nodes:,} expression nodes, with exit status 2 "
                            f"(default {DEFAULT_BUDGET_SECONDS:g}; 'none' for no limit)")
    parser = _Parser(prog="matcalc", description="Symbolic matrix calculus: derive, verify, export and train.",
                     epilog="Run 'matcalc COMMAND --help' for the options and examples of each command.")
    parser.add_argument("--version", action="version", version=f"matcalc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    formatter = argparse.RawDescriptionHelpFormatter

    derive = commands.add_parser("derive", parents=[debug], formatter_class=formatter, epilog=EXAMPLES["derive"],
                                 help="differentiate an expression and print (or typeset) the result",
                                 description="Differentiate EXPR (NumPy syntax: @ * / + - ** .T and functions "
                                             "such as sigmoid, softmax, log, sum, trace, inv).")
    derive.add_argument("expression", metavar="EXPR", help="the function, e.g. \"x @ A @ x.T\" ('-' reads stdin)")
    derive.add_argument("--wrt", action="append", metavar="NAME", help="differentiate with respect to NAME (repeat)")
    kind = derive.add_mutually_exclusive_group()
    kind.add_argument("--jacobian", action="store_true",
                      help="the Jacobian of a vector or matrix function (for matrices in the vec layout: "
                           "vec(dY) = J vec(dX), vec stacking columns)")
    kind.add_argument("--hessian", action="store_true",
                      help="the Hessian of a scalar function (of a matrix X: the Jacobian of vec(∇f), mn×mn)")
    derive.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                        help="Jacobian layout (default: numerator, rows follow the function)")
    derive.add_argument("--steps", action="store_true", help="also print every step with its rule")
    derive.add_argument("--name", action="append", metavar="NAME=EXPR",
                        help="name an intermediate in every output, e.g. --name A1=\"sigmoid(X @ W1 + b1)\" "
                             "(repeat; default names: Z1, A1, Ŷ for the forward pass, G1, G2 for the errors)")
    _add_declarations(derive)
    out = derive.add_argument_group("step-by-step documents")
    out.add_argument("--latex", metavar="FILE", help="write the derivation as LaTeX ('-' for stdout)")
    out.add_argument("--markdown", metavar="FILE", help="write the derivation as Markdown ('-' for stdout)")
    out.add_argument("--html", metavar="FILE",
                     help="write the derivation as an HTML page, its mathematics MathML ('-' for stdout)")
    out.add_argument("--pdf", metavar="FILE", help="compile the derivation to PDF with pdflatex")
    out.add_argument("--template", metavar="NAME|PATH",
                     help="LaTeX template: article (default), fragment, or a template name/path")
    out.add_argument("--template-dir", metavar="DIR", help="look for templates in DIR first")
    out.add_argument("--bold-vectors", action="store_true", help="typeset vectors in bold")
    out.add_argument("--title", help="the heading of the derivation")
    out.add_argument("--detail", choices=("textbook", "full"), default="textbook",
                     help="textbook (default): the steps a reader needs; full: every step the engine took")
    derive.set_defaults(run=command_derive)

    verify = commands.add_parser("verify", parents=[debug], formatter_class=formatter, epilog=EXAMPLES["verify"],
                                 help="check a claimed derivative (exit 1 when it is wrong)",
                                 description="Check that --expected is the derivative of EXPR, symbolically "
                                             "and numerically, and say how it fails when it does not.")
    verify.add_argument("expression", metavar="EXPR", nargs="?", help="the function ('-' reads stdin)")
    verify.add_argument("--expected", metavar="EXPR", help="the claimed derivative")
    verify.add_argument("--wrt", action="append", metavar="NAME", help="the variable")
    kind = verify.add_mutually_exclusive_group()
    kind.add_argument("--jacobian", action="store_true", help="the claim is a Jacobian")
    kind.add_argument("--hessian", action="store_true", help="the claim is a Hessian")
    kind.add_argument("--stationary", action="store_true", help="the claim solves ∇f = 0 for the variable")
    verify.add_argument("--layout", choices=("numerator", "denominator"), default="numerator")
    verify.add_argument("--convention", choices=("unconstrained", "symmetric"), default="unconstrained",
                        help="for a symmetric variable: the plain gradient G, or G + Gᵀ − G ⊙ I")
    verify.add_argument("--tolerance", type=_number("above 0", lambda v: v > 0), default=1e-6,
                        help="largest relative error, a finite number above 0 (default 1e-6)")
    verify.add_argument("--seed", type=_integer(0), default=0, help="seed of the random instances (0 or more)")
    verify.add_argument("--where", action="append", metavar="NAME=EXPR",
                        help="a symbol of the claim that abbreviates an expression (declare its shape too)")
    verify.add_argument("--catalogue", action="store_true", help="check the built-in catalogue of identities")
    verify.add_argument("--only", action="append", metavar="ID", help="with --catalogue: only these entries")
    verify.add_argument("--markdown", metavar="FILE", help="with --catalogue: write the Markdown report")
    _add_declarations(verify)
    verify.set_defaults(run=command_verify)

    export = commands.add_parser("export", parents=[debug], formatter_class=formatter, epilog=EXAMPLES["export"],
                                 help="write a standalone NumPy module for a loss and its gradients",
                                 description="Write a Python module, needing only NumPy, that computes the loss "
                                             "EXPR and its gradients, with a finite-difference check_gradient.")
    export.add_argument("expression", metavar="EXPR", help="the scalar loss ('-' reads stdin)")
    export.add_argument("--wrt", action="append", metavar="NAME", help="a parameter (repeat)")
    export.add_argument("-o", "--output", default="-", metavar="FILE", help="the module to write (default: stdout)")
    export.add_argument("--function-name", default="loss_and_gradients", help="name of the generated function")
    export.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    export.add_argument("--title", help="the first line of the module's docstring")
    _add_declarations(export)
    export.set_defaults(run=command_export)

    train = commands.add_parser("train", parents=[debug], formatter_class=formatter, epilog=EXAMPLES["train"],
                                help="train a model described in a TOML spec",
                                description="Train the parameters of a loss on a CSV file or a data set bundled "
                                            "with scikit-learn, with gradients derived and compiled by matcalc.")
    train.add_argument("spec", metavar="SPEC", help="the TOML spec")
    train.add_argument("-o", "--output", default="params.npz", metavar="FILE",
                       help="the parameters and loss history (.npz; default params.npz; '-' for stdout)")
    train.add_argument("--loss-curve", metavar="FILE", help="write the loss per epoch (.csv, or .png plot; '-' for stdout)")
    train.add_argument("--force", action="store_true",
                       help="replace existing output files (never a read-only one); without it an existing "
                            "-o or --loss-curve file is an error, checked before training starts")
    train.add_argument("--epochs", type=_integer(1), help="override [train] epochs")
    train.add_argument("--lr", type=_number("above 0", lambda v: v > 0), help="override [train] lr")
    train.add_argument("--batch-size", type=_integer(1), dest="batch_size", help="override [train] batch_size")
    train.add_argument("--seed", type=_integer(0), help="override [train] seed")
    train.add_argument("--max-csv-bytes", type=_byte_count, metavar="SIZE",
                       help="override [data] max_csv_bytes, the largest CSV file read (default 1GiB; "
                            "a number of bytes, or with a suffix: 500M, 4G)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (nor the note that training starts)")
    train.set_defaults(run=command_train)

    serve = commands.add_parser("serve", formatter_class=formatter, epilog=EXAMPLES["serve"],
                                help="the derivation page in the browser, on this machine",
                                description="Start a local web page: type an expression, get its gradient, "
                                            "Jacobian or Hessian with every step, verify a claimed result, copy "
                                            "the LaTeX, Markdown or NumPy code, download the PDF.")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                                                            "machine only)")
    serve.add_argument("--port", type=_port, default=8765, help="the port (default 8765; 0 picks a free one)")
    serve.add_argument("--workers", type=_integer(1), default=2,
                       help="worker processes computing the pages (default 2)")
    serve.add_argument("--budget", type=_number("above 0 and at most 3600", lambda v: 0 < v <= 3600),
                       default=DEFAULT_BUDGET_SECONDS,
                       metavar="SECONDS",
                       help=f"the work budget of one page (default {DEFAULT_BUDGET_SECONDS:g} s; a page still "
                            f"running a few seconds later is stopped)")
    serve.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    serve.set_defaults(run=command_serve)
    return parser


# ================================================================ main

def _one_line(error) -> str:
    """An error as one line; a parse error shows its text with the culprit between » «; an
    error without a message (``MemoryError()``) is named by its type."""
    try:
        full = str(error)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails is still reported
        full = ""
    if not full.strip():
        return type(error).__name__
    text, position = getattr(error, "text", None), getattr(error, "position", None)
    message = getattr(error, "message", None) or full.strip().splitlines()[0]
    if isinstance(error, MatcalcError) and text and position is not None and "\n" not in text:
        length = max(1, getattr(error, "length", 1))
        start = max(0, position - 40)
        shown = (("…" if start else "") + text[start:position] + "»" + text[position:position + length] + "«"
                 + text[position + length:position + length + 40] + ("…" if position + length + 40 < len(text) else ""))
        return f"{message} (column {error.column}): {shown}"
    lines = [line.strip() for line in full.splitlines() if line.strip()]
    return "; ".join(lines) if len(lines) <= 3 else "; ".join(lines[:3]) + " …"


def main(argv=None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command in ("train", "serve") or getattr(args, "catalogue", False):
            # training runs for as long as its epochs ask; its symbolic part is budgeted in
            # command_train.  Each catalogue entry has the API's budget of its own, and
            # each page that serve computes has its own (in a worker process).
            return args.run(args)
        with _budget.limit(_budget_of(args), args.command):
            return args.run(args)
    except KeyboardInterrupt:
        print("matcalc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - reported in one line; --debug shows the traceback
        if args.debug:
            raise
        print(f"matcalc {args.command}: {_error_kind(error)}: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE


def _error_kind(error) -> str:
    """How the one-line report introduces ``error``: a usage error, a resource running out,
    or a bug of matcalc's."""
    if isinstance(error, (MatcalcError, OSError)):
        return "error"
    if isinstance(error, MemoryError):
        return "error: out of memory"
    if isinstance(error, RecursionError):
        return "error: the input is nested too deeply"
    return f"internal error ({type(error).__name__}; --debug shows where)"


if __name__ == "__main__":
    sys.exit(main())
