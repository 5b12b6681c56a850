"""The training spec: every field checked with its type and range when the spec is read,
and the CSV it names read as a regular UTF-8 file within a size limit.  (The command line
around it is driven in tests/apps/test_cli.py and test_cli_robustness.py.)"""
import os

import numpy as np
import pytest

from specs import ols_spec

import matcalc as mc
from matcalc import files
from matcalc.apps import spec as specs
from matcalc.apps.spec import SpecError

SPEC = ols_spec(csv="data.csv", epochs=30)


def edit(before, after):
    return lambda text: text.replace(before, after)


def add(section, line):
    return lambda text: text.replace(f"[{section}]\n", f"[{section}]\n{line}\n")


@pytest.mark.parametrize("change, fragment", [
    # the mistakes that were internal errors (issue 12, item 11)
    (edit("epochs = 30", 'epochs = "abc"'), '[train] epochs must be an integer of at least 1, not "abc"'),
    (add("train", 'tol = "x"'), '[train] tol must be a finite number of at least 0, not "x"'),
    (add("data", 'test_fraction = "abc"'), '[data] test_fraction must be a finite number from 0 up to'),
    (edit("lr = 0.1", 'lr = "0.01"'), '[train] lr must be a finite number above 0, not "0.01"'),
    # nonsense that was accepted (item 12)
    (edit("epochs = 30", "epochs = 2.5"), "[train] epochs must be an integer of at least 1, not 2.5"),
    (add("train", "batch_size = 2.5"), "[train] batch_size must be an integer of at least 1, not 2.5"),
    (edit("lr = 0.1", "lr = -1"), "[train] lr must be a finite number above 0, not -1"),
    (edit("lr = 0.1", "lr = inf"), "[train] lr must be a finite number above 0, not inf"),
    (add("train", "seed = 1.5"), "[train] seed must be an integer of at least 0, not 1.5"),
    (add("data", "test_fraction = -0.1"), "[data] test_fraction must be a finite number from 0 up to (not including) 1, not -0.1"),
    (add("data", "test_fraction = 1.0"), "[data] test_fraction must be"),
    (add("data", 'header = "yes"'), '[data] header must be true or false, not "yes"'),
    (edit("bias_column = true", "bias_column = 3"), "[data] bias_column must be true or false, not 3"),
    (lambda t: t.replace('"gd"', '"momentum"') + "momentum = [1]\n",
     "[train] momentum must be a finite number from 0 up to (not including) 1, not [1]"),
    (add("train", "momentum = 0.9"), '[train] momentum applies only to optimizer = "momentum", not "gd"'),
    (add("train", "beta1 = 0.9"), '[train] beta1 applies only to optimizer = "adam"'),
    (add("data", "max_csv_bytes = 0"), "[data] max_csv_bytes must be an integer of at least 1"),
    (add("data", "seed = -3"), "[data] seed must be an integer of at least 0"),
    (add("data", 'scale = "log"'), '[data] scale must be one of "none", "standard", "minmax"'),
    (add("data", "target_column = 1.5"), "[data] target_column must be a column name or an integer"),
    (add("train", 'dtype = "float16"'), '[train] dtype must be one of "float64", "float32"'),
    (edit('wrt = ["w"]', "wrt = []"), "wrt must be a list of names (at least one)"),
    (edit('wrt = ["w"]', 'wrt = "w"'), "wrt must be a list of names"),
    (edit('loss = "norm(X @ w - y)**2 / n"', "loss = 3"), "loss must be a non-empty string"),
    (lambda t: t.replace("[data]", "[dims]\nd = 0\n[data]"), "dims must be a table of integers of at least 1"),
    (edit('optimizer = "gd"', 'optimizer = "lbfgs"'), '[train] optimizer must be one of "gd"'),
    (lambda t: 'binary = "y"\n' + t, "binary must be a list of names"),
])
def test_every_field_is_checked_with_its_type_and_range(tmp_path, change, fragment):
    path = tmp_path / "spec.toml"
    path.write_text(change(SPEC))
    with pytest.raises(SpecError) as error:
        specs.load_spec(path)
    message = str(error.value)
    assert fragment in message and "\n" not in message
    assert message.startswith(f"{path}: ")


def test_a_good_spec_is_returned_as_written(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    spec = specs.load_spec(path)
    assert spec["train"] == {"optimizer": "gd", "lr": 0.1, "epochs": 30}
    assert isinstance(mc.MatcalcError, type) and issubclass(SpecError, mc.MatcalcError)


def test_the_spec_is_read_only_from_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "spec.toml")
    with pytest.raises(mc.FileError, match="spec file .* is a FIFO"):
        specs.load_spec(tmp_path / "spec.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(mc.FileError, match="is a directory"):
        specs.load_spec(tmp_path / "dir.toml")
    (tmp_path / "latin.toml").write_bytes(SPEC.replace("norm", "n\xe9rm").encode("latin-1"))
    with pytest.raises(SpecError, match="not UTF-8 text"):
        specs.load_spec(tmp_path / "latin.toml")


# ---------------------------------------------------------------- the CSV

def write_csv(tmp_path, content, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_a_csv_is_read_as_numbers_and_labels(tmp_path):
    features, target = specs.read_csv(write_csv(tmp_path, "a,b,label\n1,2,x\n3,4,y\n"))
    np.testing.assert_array_equal(features, [[1, 2], [3, 4]])
    assert list(target) == ["x", "y"]


@pytest.mark.parametrize("content, fragment", [
    (b"a,label\n1,2\n\xe9,3\n", "line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("label\n3\n5\n", "has only the target column"),
    ("a,label\n1,2\nnan,3\n", "line 3, column 'a': 'nan' is not a finite number"),
    ("a,label\n1,2\ninf,3\n", "'inf' is not a finite number"),
    ("a,label\n1,2\n3,inf\n", "the target column 'label' holds a value that is not finite"),
    ("a,label\n1,2\n3\n", "line 3: 1 columns, expected 2"),
    (b"a,label\n1,2\n3\x00,4\n", "column 'a': '3\\\\x00' is not a number"),
    ("", "has no rows"),
])
def test_bad_csv_files_are_clear_errors(tmp_path, content, fragment):
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        specs.read_csv(write_csv(tmp_path, content))


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "data.csv")
    with pytest.raises(mc.FileError, match="CSV file .* is a FIFO; matcalc reads only regular files"):
        specs.read_csv(tmp_path / "data.csv")


def test_the_size_limit_and_how_to_raise_it(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:    # sparse: 1 GiB + 1 byte, no disk used
        handle.truncate(specs.DEFAULT_MAX_CSV_BYTES + 1)
    with pytest.raises(mc.FileError, match=r"larger than the limit of 1 GiB.*max_csv_bytes = … in the spec "
                                           r"or --max-csv-bytes"):
        specs.read_csv(big)
    small = write_csv(tmp_path, "a,label\n1,2\n3,4\n")
    with pytest.raises(mc.FileError, match="larger than the limit of 10 bytes"):
        specs.read_csv(small, limit=10)
    assert specs.read_csv(small, limit=100)[0].shape == (2, 1)
    # the spec field is what the CLI passes on
    data = {"csv": "big.csv", "inputs": "X", "target": "y", "max_csv_bytes": 2 * files.GiB}
    assert specs.data_source(data, tmp_path) == big


def test_data_source_checks_the_file_without_reading_it(tmp_path):
    data = {"csv": "missing.csv", "inputs": "X", "target": "y"}
    with pytest.raises(mc.FileError, match="no such CSV file"):
        specs.data_source(data, tmp_path)


def test_every_assumption_of_the_text_syntax_can_be_declared(tmp_path):
    """symmetric, spd, positive, onehot and binary: the assumptions --symmetric … --binary
    of the command line, as top-level lists of names."""
    path = tmp_path / "spec.toml"
    path.write_text('binary = ["y"]\npositive = []\n' + SPEC)
    assert specs.load_spec(path)["binary"] == ["y"]
    assert set(mc.core.symbols.KNOWN_ASSUMPTIONS) <= set(specs.FIELDS[""])
