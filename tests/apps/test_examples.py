"""Every example runs (quick setting) and delivers what it promises."""
import numpy as np
import pytest

from models import example as load


def test_ols_diabetes_reaches_the_closed_form():
    pytest.importorskip("sklearn")
    report = load("ols_diabetes").main(quick=True, progress=False)
    assert report["relative_error"] < 1e-6
    assert report["closed_form_vs_lstsq"] < 1e-10     # the closed form itself is right


def test_mlp_digits_reaches_95_percent():
    pytest.importorskip("sklearn")
    report = load("mlp_digits").main(quick=True, progress=False)
    assert report["test_accuracy"] >= 0.95
    assert report["history"][-1] < report["history"][0]


def test_seed001_worked_example_matches_the_hand_calculation():
    report = load("seed001_worked_example").main(quick=True)
    assert report["max_difference"] < 1e-12
    ours = report["matcalc"]
    sig = lambda v: 1 / (1 + np.exp(-v))   # noqa: E731
    assert ours["y_hat"] == pytest.approx(sig(ours["v_in2"]).item())
    assert not np.allclose(ours["W01_new"], load("seed001_worked_example").W01)   # an update happened


def test_dask_logistic_small_matches_numpy_on_the_subset():
    """The Dask example at its --small size: the chunked trainer and the NumPy trainer agree
    on a subset, the loss falls, and the worker memory was sampled while it trained."""
    pytest.importorskip("distributed")
    pytest.importorskip("psutil")
    report = load("dask_logistic").main(small=True, progress=False)
    assert report["max_difference"] < 1e-10 and report["loss_difference"] < 1e-12
    assert report["history"][-1] < report["history"][0]
    assert 0 < report["peak_worker_memory"] < report["memory_limit"]
