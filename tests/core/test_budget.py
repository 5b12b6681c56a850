"""The work budget: every public entry point takes ``budget=``, running out raises a
BudgetError that names the stage and the size reached, and the CLI stops in one line."""
import subprocess
import sys

import pytest

import matcalc as mc
from matcalc.apps import cli
from matcalc.core import algebra, budget

SHAPES = {"X": ("m", "n"), "w": ("n", 1), "G": ("m", "n")}


def _softmax(k):
    return mc.parse("sum(G * " + "softmax(" * k + "X @ w @ w.T" + ")" * k + ")", SHAPES)


def _w(expr):
    return next(s for s in mc.core.symbols.matrix_symbols(expr) if s.name == "w")


def test_a_tiny_budget_trips_with_the_documented_message():
    algebra.clear_caches()   # nothing remembered from other tests: the work is really done
    f = _softmax(3)
    with pytest.raises(mc.BudgetError) as info:
        mc.derive(f, _w(f), budget={"nodes": 50})
    error = info.value
    assert isinstance(error, mc.MatcalcError)
    assert error.stage in ("differentiating", "simplifying")
    assert error.nodes > 50
    message = str(error)
    assert message.startswith(f"work budget exceeded while {error.stage}: ")
    assert "expression nodes built (limit 50)" in message
    assert "budget=" in message and "--budget" in message


def test_a_time_budget_trips_too(monkeypatch):
    algebra.clear_caches()
    clock = iter(range(0, 10_000, 5))            # every reading of the clock is 5 s later
    monkeypatch.setattr(budget.time, "monotonic", lambda: next(clock))
    f = _softmax(2)
    with pytest.raises(mc.BudgetError) as info:
        mc.gradient(f, _w(f), budget=1)
    assert "s spent (limit 1 s)" in str(info.value)
    assert info.value.seconds > 1


@pytest.mark.parametrize("entry", ["gradient", "jacobian", "hessian", "compile", "verify", "export_numpy"])
def test_every_entry_point_takes_a_budget(entry):
    algebra.clear_caches()
    x = mc.colvec("x", "n")
    A = mc.matrix("A", "n", "n")
    f = mc.sum(mc.sigmoid(A * x))
    call = {
        "gradient": lambda b: mc.gradient(f, x, budget=b),
        "jacobian": lambda b: mc.jacobian(mc.sigmoid(A * x), x, budget=b),
        "hessian": lambda b: mc.hessian(f, x, budget=b),
        "compile": lambda b: mc.compile([f, mc.gradient(f, x, budget=False)], budget=b),
        "verify": lambda b: mc.verify(f, x, A.T * (mc.sigmoid(A * x) - mc.power(mc.sigmoid(A * x), 2)), budget=b),
        "export_numpy": lambda b: mc.export_numpy(f, [x], budget=b),
    }[entry]
    assert call(None) is not None and call(False) is not None and call(30) is not None
    algebra.clear_caches()
    with pytest.raises(mc.BudgetError):
        call({"nodes": 1})


def test_budgets_nest_and_the_innermost_stage_is_reported():
    algebra.clear_caches()
    f = _softmax(3)
    with budget.limit({"nodes": 40}, "outer work") as outer:
        with pytest.raises(mc.BudgetError) as info:
            mc.derive(f, _w(f), budget=False)     # no budget of its own: the outer one counts
    assert info.value.stage in ("differentiating", "simplifying")
    assert outer.used > 40


@pytest.mark.parametrize("value, message", [
    ({"nodes": 0}, "positive"), ({"seconds": -1}, "positive"), ({"speed": 3}, "unknown budget field"),
    ("fast", "budget must be"), (True, "budget must be"),
])
def test_bad_budgets_are_refused(value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        budget.as_budget(value)


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=120)


def test_the_cli_stops_in_one_line_with_exit_status_2():
    text = "sum(G * " + "softmax(" * 6 + "X @ w @ w.T" + ")" * 6 + ")"
    run = _run_cli("derive", text, "--wrt", "w", "--shape", "X=m,n", "--shape", "w=n,1", "--shape", "G=m,n",
                   "--budget", "0.05")
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("matcalc derive: error: work budget exceeded while ")
    assert run.stdout == ""


def test_the_cli_budget_option():
    assert cli._budget_seconds("none") is None
    assert cli._budget_seconds("2.5") == 2.5
    for bad in ("-1", "inf", "nan", "soon"):
        with pytest.raises(Exception, match="--budget takes"):
            cli._budget_seconds(bad)
    parsed = cli.build_parser().parse_args(["derive", "x", "--wrt", "x"])
    assert parsed.budget == cli.DEFAULT_BUDGET_SECONDS
