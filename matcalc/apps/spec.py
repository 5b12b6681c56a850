"""The training spec of ``matcalc train``: reading it, checking every field, and loading the
data it names.

Every field has a type and a range (:data:`FIELDS`), checked when the spec is read, so a
mistake is reported before any work starts, in one line that names the field: ``epochs =
2.5``, ``lr = "0.01"``, ``test_fraction = -0.1`` and ``header = "yes"`` are refused, not
converted or ignored.  The spec and the CSV file are read as :func:`matcalc.files.read`
reads: regular files only, within a size limit (``[data] max_csv_bytes``, 1 GiB unless
raised), so ``csv = "/dev/zero"`` or a FIFO is refused instead of exhausting memory or
hanging.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import math
import tomllib
from pathlib import Path

from .. import files
from ..errors import MatcalcError

__all__ = ["SpecError", "load_spec", "check_field", "FIELDS", "DATASETS",
           "DEFAULT_MAX_CSV_BYTES", "data_source", "check_data_symbols", "sample_dimension", "load_table",
           "prepare_data", "read_csv"]

DATASETS = ("load_diabetes", "load_digits", "load_iris", "load_breast_cancer", "load_wine")

DEFAULT_MAX_CSV_BYTES = files.GiB
"""The largest CSV file read unless ``[data] max_csv_bytes`` (or ``--max-csv-bytes``) says more."""

MAX_SPEC_BYTES = files.MiB
"""A spec is a few lines; a larger file is not one."""

OPTIMIZERS = ("gd", "sgd", "momentum", "adam")

# Which optimiser reads which setting: any other optimiser would silently ignore it.
_OPTIMIZER_SETTINGS = {"momentum": ("momentum",), "beta1": ("adam",), "beta2": ("adam",), "eps": ("adam",)}


class SpecError(MatcalcError, ValueError):
    """A training spec, or the data it names, that cannot be used; the message names the field."""


# ================================================================ the fields

class _Field:
    """A check of one field: ``accepts(value)``, described for the error message."""

    def __init__(self, description, accepts):
        self.description, self.accepts = description, accepts


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def integer(minimum):
    return _Field(f"an integer of at least {minimum}", lambda v: _is_int(v) and v >= minimum)


def number(description, accepts):
    return _Field(f"a finite number {description}", lambda v: _is_number(v) and accepts(v))


def text():
    return _Field("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))


def choice(*options):
    return _Field("one of " + ", ".join(f'"{o}"' for o in options), lambda v: isinstance(v, str) and v in options)


def boolean():
    return _Field("true or false", lambda v: isinstance(v, bool))


def names(empty=True):
    return _Field("a list of names" + ("" if empty else " (at least one)"),
                  lambda v: isinstance(v, list) and (empty or bool(v)) and all(isinstance(n, str) for n in v))


def table(of=None, entries=""):
    """A TOML table, each value accepted by ``of`` (described as ``entries``)."""
    return _Field("a table" + (f" of {entries}" if entries else ""),
                  lambda v: isinstance(v, dict) and (of is None or all(of.accepts(x) for x in v.values())))


FIELDS = {
    "": {
        "loss": text(), "wrt": names(empty=False), "predict": text(),
        "shapes": table(_Field("", lambda v: isinstance(v, list)), 'lists such as [1, "n"] (or [] for a scalar)'),
        "dims": table(integer(1), "integers of at least 1"), "data": table(), "train": table(),
        "symmetric": names(), "spd": names(), "positive": names(), "onehot": names(), "binary": names(),
    },
    "data": {
        "dataset": choice(*DATASETS), "csv": text(), "inputs": text(), "target": text(),
        "target_column": _Field("a column name or an integer", lambda v: _is_int(v) or isinstance(v, str)),
        "header": boolean(), "samples": text(), "scale": choice("none", "standard", "minmax"),
        "bias_column": boolean(), "test_fraction": number("from 0 up to (not including) 1", lambda v: 0 <= v < 1),
        "seed": integer(0), "max_csv_bytes": integer(1),
    },
    "train": {
        "optimizer": choice(*OPTIMIZERS), "lr": number("above 0", lambda v: v > 0),
        "epochs": integer(1), "batch_size": integer(1), "seed": integer(0),
        "tol": number("of at least 0", lambda v: v >= 0), "grad_tol": number("of at least 0", lambda v: v >= 0),
        "momentum": number("from 0 up to (not including) 1", lambda v: 0 <= v < 1),
        "beta1": number("from 0 up to (not including) 1", lambda v: 0 <= v < 1),
        "beta2": number("from 0 up to (not including) 1", lambda v: 0 <= v < 1),
        "eps": number("above 0", lambda v: v > 0),
        "dtype": choice("float64", "float32"),
    },
}
"""Every field of a spec, by section ("" is the top level), with its type and range."""

REQUIRED = {"": ("loss", "wrt", "shapes", "data"), "data": ("inputs", "target"), "train": ()}


def _label(section, key) -> str:
    return f"[{section}] {key}" if section else key


def check_field(section, key, value, where=""):
    """``value`` if it is a valid ``key`` of ``[section]``, else SpecError naming the field."""
    field = FIELDS[section][key]
    if not field.accepts(value):
        raise SpecError(f"{where}{_label(section, key)} must be {field.description}, not {_shown(value)}")
    return value


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, str) else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 40 else text[:37] + "…"


# ================================================================ the spec

def load_spec(path):
    """Read and check a training spec (TOML); see ``matcalc train --help`` for the format.
    Returns the spec as a dict, every field checked."""
    path = Path(path)
    where = f"{path}: "
    raw = files.read(path, limit=MAX_SPEC_BYTES, what="spec file")
    try:
        spec = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SpecError(f"{where}not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path} is not valid TOML: {error}") from None
    _check_table(spec, "", where)
    for section in ("data", "train"):
        _check_table(spec.get(section, {}), section, where)
    data = spec["data"]
    if ("dataset" in data) == ("csv" in data):
        raise SpecError(f"{where}[data] needs exactly one of dataset = \"load_digits\" or csv = \"file.csv\"")
    settings = spec.get("train", {})
    optimizer = settings.get("optimizer", "adam")
    for key, users in _OPTIMIZER_SETTINGS.items():
        if key in settings and optimizer not in users:
            raise SpecError(f"{where}[train] {key} applies only to optimizer = \"{users[0]}\", "
                            f"not \"{optimizer}\"")
    return spec


def _check_table(table, section, where):
    known = FIELDS[section]
    for key in table:
        if key not in known:
            label = f"[{section}] " if section else ""
            raise SpecError(f"{where}unknown key {label}{key!r}; known: {', '.join(sorted(known))}")
    for key in REQUIRED[section]:
        if key not in table:
            raise SpecError(f"{where}[{section}] needs {key!r}" if section else f"{where}missing {key!r}")
    for key, value in table.items():
        check_field(section, key, value, where)


# ================================================================ the data

def data_source(data, spec_dir):
    """The CSV path the spec names (checked to be a readable regular file within the size
    limit, without reading it), or None for a bundled data set (checked to be importable)."""
    if "dataset" in data:
        if importlib.util.find_spec("sklearn") is None:
            raise SpecError("the bundled data sets need scikit-learn: pip install 'matcalc[examples]'")
        return None
    path = spec_dir / data["csv"]
    files.check_input(path, limit=data.get("max_csv_bytes", DEFAULT_MAX_CSV_BYTES), what="CSV file",
                      raise_with=_RAISE_WITH)
    return path


_RAISE_WITH = "[data] max_csv_bytes = … in the spec or --max-csv-bytes"


def load_table(data, spec_dir):
    """(features N×d float array, target array of N values or labels) from a CSV or a data set."""
    import numpy as np
    if "dataset" in data:
        from sklearn import datasets
        features, target = getattr(datasets, data["dataset"])(return_X_y=True)
        return np.asarray(features, dtype=float), np.asarray(target)
    return read_csv(spec_dir / data["csv"], data.get("target_column"), data.get("header"),
                    limit=data.get("max_csv_bytes", DEFAULT_MAX_CSV_BYTES))


def read_csv(path, target_column=None, header=None, *, limit=DEFAULT_MAX_CSV_BYTES):
    """(features, target) from a UTF-8 CSV file of at most ``limit`` bytes: every column but
    the target must hold finite numbers; the target holds numbers or class labels."""
    import numpy as np
    raw = files.read(path, limit=limit, what="CSV file", raise_with=_RAISE_WITH)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise SpecError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                        f"save the file as UTF-8") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(content, newline=""))
                if row and any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise SpecError(f"{path} is not a CSV file: {error}") from None
    if not rows:
        raise SpecError(f"{path} has no rows")

    def value(cell):
        try:
            return float(cell)
        except ValueError:
            return None

    if header is None:   # a first row with any non-number is a header
        header = any(value(cell) is None for cell in rows[0])
    columns = [c.strip() for c in rows[0]] if header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise SpecError(f"{path} has a header but no data rows")
    if target_column is None:
        column = len(columns) - 1
    elif _is_int(target_column):
        column = target_column if target_column >= 0 else len(columns) + target_column
    elif target_column in columns:
        column = columns.index(target_column)
    else:
        raise SpecError(f"{path}: no column {target_column!r} ([data] target_column); "
                        f"columns are {', '.join(columns)}")
    if not 0 <= column < len(columns):
        raise SpecError(f"{path}: [data] target_column {target_column} is out of range (0..{len(columns) - 1})")
    if len(columns) < 2:
        raise SpecError(f"{path} has only the target column; the features need at least one more")
    features, target = [], []
    for line, row in enumerate(body, start=2 if header else 1):
        if len(row) != len(columns):
            raise SpecError(f"{path}, line {line}: {len(row)} columns, expected {len(columns)}")
        values = []
        for index, cell in enumerate(row):
            if index == column:
                continue
            number = value(cell)
            if number is None or not math.isfinite(number):
                what = "a finite number" if number is not None else "a number"
                raise SpecError(f"{path}, line {line}, column {columns[index]!r}: {cell.strip()!r} is not {what}")
            values.append(number)
        features.append(values)
        target.append(row[column].strip())
    numbers = [value(t) for t in target]
    if all(v is not None for v in numbers):
        if not all(math.isfinite(v) for v in numbers):
            raise SpecError(f"{path}: the target column {columns[column]!r} holds a value that is not finite")
        return np.array(features, dtype=float), np.array(numbers, dtype=float)
    return np.array(features, dtype=float), np.array(target)


def prepare_data(spec, symbols, spec_dir, seed):
    """Arrays for the inputs and target symbols, laid out as their shapes say; and a test split."""
    import numpy as np
    data = spec["data"]
    features, target = load_table(data, spec_dir)
    scale = data.get("scale", "none")
    if scale == "standard":
        spread = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    elif scale == "minmax":
        low, high = features.min(axis=0), features.max(axis=0)
        features = (features - low) / np.where(high > low, high - low, 1.0)
    if data.get("bias_column", False):
        features = np.hstack([np.ones((features.shape[0], 1)), features])

    inputs_name, target_name = data["inputs"], data["target"]
    inputs, target_symbol = symbols[inputs_name], symbols[target_name]
    samples = sample_dimension(spec, symbols)
    rows, cols = target_symbol.shape
    other = cols if rows == samples else rows
    classes = None
    if other == 1:
        if target.dtype.kind not in "fiu":
            raise SpecError(f"{target_name} is a vector but the target column holds labels, not numbers")
        encoded = target.astype(float)[:, None]
    else:
        classes = np.unique(target)
        encoded = (target[:, None] == classes[None, :]).astype(float)
        if other.is_Integer and int(other) != len(classes):
            raise SpecError(f"{target_name} has {other} classes in [shapes] but the data has {len(classes)}")

    order = np.random.default_rng(seed).permutation(len(features))
    n_test = int(round(data.get("test_fraction", 0.0) * len(features)))
    if n_test >= len(features):
        raise SpecError(f"[data] test_fraction {data['test_fraction']} leaves no training samples "
                        f"out of {len(features)}")
    splits = {"train": order[n_test:], "test": order[:n_test]}

    def arrays(index):
        x, y = features[index], encoded[index]
        return {inputs_name: x if inputs.shape[0] == samples else x.T,
                target_name: y if rows == samples else y.T}

    return arrays(splits["train"]), (arrays(splits["test"]) if n_test else None), classes


def check_data_symbols(spec, symbols):
    """The [data] inputs and target name matrices of [shapes] sharing a sample dimension."""
    data = spec["data"]
    for key in ("inputs", "target"):
        name = data[key]
        if name not in symbols or not hasattr(symbols[name], "shape"):
            raise SpecError(f"[data] {key} names {name!r}, which is not a matrix in [shapes]")
    sample_dimension(spec, symbols)


def sample_dimension(spec, symbols):
    """The dimension that counts the samples: [data] samples, or the one dimension the
    inputs and the target share."""
    import sympy
    data = spec["data"]
    inputs_name, target_name = data["inputs"], data["target"]
    inputs, target = symbols[inputs_name], symbols[target_name]
    if "samples" in data:
        samples = sympy.Symbol(str(data["samples"]), integer=True, positive=True)
    else:
        shared = ({d for d in inputs.shape if d.is_Symbol} & {d for d in target.shape if d.is_Symbol})
        if len(shared) != 1:
            raise SpecError(f"cannot tell which dimension counts the samples ({inputs_name} is "
                            f"{inputs.shape[0]}×{inputs.shape[1]}, {target_name} is "
                            f"{target.shape[0]}×{target.shape[1]}); set [data] samples = \"N\"")
        samples = shared.pop()
    if samples not in inputs.shape or samples not in target.shape:
        raise SpecError(f"the sample dimension {samples} must be a dimension of both {inputs_name} and {target_name}")
    return samples

