"""Trainers: gradient descent, minibatch SGD, momentum and Adam over compiled gradients;
checked against closed-form least squares and against each other."""
import numpy as np
import pytest

import matcalc as mc
from matcalc.errors import ArgumentError, DivergenceError, MatcalcError

X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
LOSS = (y - w * X.T) * (y - w * X.T).T / (2 * mc.dim("n"))


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    design = np.hstack([np.ones((40, 1)), rng.normal(size=(40, 3))])
    target = design @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=40)
    return {"X": design, "y": target}, np.linalg.lstsq(design, target, rcond=None)[0]


@pytest.mark.parametrize("optimizer, lr, epochs", [("gd", 0.5, 3000), ("momentum", 0.1, 3000), ("adam", 0.05, 4000)])
def test_full_batch_optimisers_reach_least_squares(problem, optimizer, lr, epochs):
    data, exact = problem
    result = mc.train(LOSS, [w], data, optimizer=optimizer, lr=lr, epochs=epochs, grad_tol=1e-10, progress=False)
    assert result.converged, result.reason
    np.testing.assert_allclose(result.params["w"].ravel(), exact, rtol=1e-7, atol=1e-8)
    assert len(result.history) == result.epochs
    assert result.history[-1] <= result.history[0]


def test_one_shuffled_batch_equals_full_batch(problem):
    """The loss is a mean over samples, so one shuffled batch of all n gives the same steps:
    this checks that y (1×n) is cut along its columns and X (n×d) along its rows together."""
    data, _ = problem
    full = mc.train(LOSS, [w], data, optimizer="gd", lr=0.3, epochs=20, progress=False)
    shuffled = mc.train(LOSS, [w], data, optimizer="gd", lr=0.3, epochs=20, batch_size=40, progress=False)
    np.testing.assert_allclose(shuffled.history, full.history, rtol=1e-12)
    np.testing.assert_allclose(shuffled.params["w"], full.params["w"], rtol=1e-12)


def test_minibatch_sgd_converges_and_is_reproducible(problem):
    data, exact = problem
    runs = [mc.train(LOSS, [w], data, optimizer="momentum", lr=0.02, epochs=300, batch_size=8, seed=s,
                     progress=False) for s in (3, 3, 4)]
    np.testing.assert_allclose(runs[0].params["w"].ravel(), exact, atol=0.05)
    assert runs[0].history == runs[1].history
    assert runs[0].history != runs[2].history


def test_tolerance_stops_early_and_init_is_not_mutated(problem):
    data, _ = problem
    start = np.zeros((1, 4))
    result = mc.train(LOSS, [w], data, {"w": start}, optimizer="gd", lr=0.5, epochs=5000, tol=1e-12, progress=False)
    assert result.converged and result.epochs < 5000 and "relative loss change" in result.reason
    assert not start.any()


def test_divergence_raises_a_clear_error(problem):
    data, _ = problem
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+.*smaller learning rate"):
        mc.train(LOSS, [w], data, optimizer="gd", lr=100.0, epochs=1000, progress=False)
    assert issubclass(DivergenceError, MatcalcError)


def test_mlp_gradients_from_matcalc_reduce_the_loss():
    N, d, h, K = "N", "d", "h", "K"
    Xm, Y = mc.matrix("X", N, d), mc.matrix("Y", N, K, onehot=True)
    W1, b1, W2, b2 = mc.matrix("W1", d, h), mc.rowvec("b1", h), mc.matrix("W2", h, K), mc.rowvec("b2", K)
    A1 = mc.sigmoid(Xm * W1 + mc.ones(N, 1) * b1)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(A1 * W2 + mc.ones(N, 1) * b2)))) / mc.dim(N)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 2)) * 3
    labels = rng.integers(0, 3, 90)
    data = {"X": centres[labels] + rng.normal(size=(90, 2)), "Y": np.eye(3)[labels]}
    trainer = mc.Trainer(loss, [W1, b1, W2, b2], optimizer="adam", lr=0.05)
    result = trainer.fit(data, epochs=60, batch_size=16, dims={"h": 8}, progress=False)
    assert result.history[-1] < 0.5 * result.history[0]
    value, grads = trainer.evaluate(data, result.params)
    assert value == pytest.approx(trainer.evaluate(data, result.params)[0])
    assert set(grads) == {"W1", "b1", "W2", "b2"}


def test_float32_training(problem):
    data, exact = problem
    result = mc.train(LOSS, [w], data, optimizer="gd", lr=0.5, epochs=500, dtype="float32", progress=False)
    assert result.params["w"].dtype == np.float32
    np.testing.assert_allclose(result.params["w"].ravel(), exact, rtol=1e-3, atol=1e-3)


def test_progress_bar_and_loss_plot(problem, tmp_path, capsys):
    data, _ = problem
    result = mc.train(LOSS, [w], data, optimizer="gd", lr=0.5, epochs=30, progress=True)
    assert "training" in capsys.readouterr().err
    pytest.importorskip("matplotlib")
    path = result.plot(tmp_path / "loss.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments(problem):
    data, _ = problem
    trainer = mc.Trainer(LOSS, [w], optimizer="gd")
    with pytest.raises(ArgumentError, match="unexpected data 'Z'"):
        trainer.fit({**data, "Z": 1}, progress=False)
    with pytest.raises(ArgumentError, match="not a parameter"):
        trainer.fit(data, {"v": np.zeros(4)}, progress=False)
    with pytest.raises(ArgumentError, match=r"'X': expected \(n, d\)"):
        trainer.fit({"X": data["X"][:, :2], "y": data["y"]}, {"w": np.zeros(4)}, progress=False)
    with pytest.raises(MatcalcError, match="unknown optimizer"):
        mc.Trainer(LOSS, [w], optimizer="lbfgs")
    with pytest.raises(MatcalcError, match="does not depend on"):
        mc.Trainer(LOSS, [mc.rowvec("v", "d")], gradients=[mc.rowvec("v", "d")])
    A, B, P = mc.matrix("A", "n", "k"), mc.matrix("B", "m", "k"), mc.colvec("P", "k")
    two_sample_dims = mc.sum(mc.hadamard(A * P, A * P)) + mc.sum(mc.hadamard(B * P, B * P))
    trainer = mc.Trainer(two_sample_dims, [P], optimizer="gd")
    with pytest.raises(MatcalcError, match="candidates: m, n.*pass batch_dim"):
        trainer.fit({"A": np.ones((3, 2)), "B": np.ones((4, 2))}, batch_size=2, progress=False)
    result = trainer.fit({"A": np.ones((3, 2)), "B": np.ones((4, 2))}, batch_size=2, batch_dim="n",
                         epochs=2, progress=False)
    assert result.epochs == 2


def test_jax_backend_trains(problem):
    pytest.importorskip("jax")
    data, exact = problem
    result = mc.train(LOSS, [w], data, optimizer="gd", lr=0.5, epochs=3000, grad_tol=1e-10,
                      backend="jax", progress=False)
    np.testing.assert_allclose(result.params["w"].ravel(), exact, rtol=1e-7, atol=1e-8)


def test_complex_or_empty_arrays_are_refused_wherever_they_enter(problem):
    """Data and initial parameters go through the compiled function's checks: a complex
    array is an ArgumentError (not a ComplexWarning and a truncated copy), so is an empty one."""
    data, _ = problem
    trainer = mc.Trainer(LOSS, [w], optimizer="gd")
    for init in (np.zeros(4) + 1j, [0j, 1, 2, 3], np.zeros(4, dtype=complex)):
        with pytest.raises(ArgumentError, match=r"argument 'w': expected real numbers, got a complex array"):
            trainer.fit(data, {"w": init}, epochs=1, progress=False)
    with pytest.raises(ArgumentError, match=r"argument 'w': expected a numeric array"):
        trainer.fit(data, {"w": ["a", "b", "c", "d"]}, epochs=1, progress=False)
    for batch_size in (None, 8):
        with pytest.raises(ArgumentError, match=r"argument 'X': expected real numbers"):
            trainer.fit({**data, "X": data["X"] + 1j}, epochs=1, batch_size=batch_size, progress=False)
    with pytest.raises(ArgumentError, match=r"argument 'w'.*at least 1"):
        trainer.fit(data, {"w": np.zeros(0)}, epochs=1, progress=False)
    with pytest.raises(ArgumentError, match=r"argument 'X'.*at least 1"):
        trainer.fit({"X": np.zeros((0, 4)), "y": np.zeros(0)}, {"w": np.zeros(4)}, epochs=1, progress=False)


@pytest.mark.parametrize("options, fragment", [
    ({"lr": -1}, "lr must be a finite number above 0, not -1"),
    ({"lr": 0}, "lr must be a finite number above 0"),
    ({"lr": float("inf")}, "lr must be a finite number above 0"),
    ({"lr": "0.01"}, "lr must be a finite number above 0, not '0.01'"),
    ({"optimizer": "momentum", "momentum": 1.0}, "momentum must be a finite number at least 0 and below 1"),
    ({"optimizer": "momentum", "momentum": [1]}, "momentum must be"),
    ({"optimizer": "adam", "beta2": 1.5}, "beta2 must be"),
    ({"optimizer": "adam", "eps": 0}, "eps must be a finite number above 0"),
    ({"optimizer": "adam", "momentum": 0.9}, "momentum applies to the 'momentum' optimizer, not to 'adam'"),
    ({"optimizer": "gd", "beta1": 0.5}, "beta1 applies to the 'adam' optimizer"),
])
def test_optimizer_settings_are_checked(options, fragment):
    """A setting of the wrong type or range, or one the optimiser would ignore, is refused
    before anything is compiled or trained (lr = -1 used to climb to 1e224 without a word)."""
    with pytest.raises(ArgumentError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        mc.Trainer(LOSS, [w], **options)


@pytest.mark.parametrize("options, fragment", [
    ({"epochs": 2.5}, "epochs must be an integer of at least 1, not 2.5"),
    ({"epochs": 0}, "epochs must be an integer of at least 1"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"batch_size": 2.5}, "batch_size must be an integer of at least 1, not 2.5"),
    ({"seed": 1.5}, "seed must be an integer of at least 0, not 1.5"),
    ({"seed": -1}, "seed must be an integer of at least 0"),
    ({"tol": "x"}, "tol must be a finite number at least 0"),
    ({"grad_tol": -1}, "grad_tol must be a finite number at least 0"),
    ({"divergence": 0.5}, "divergence must be a finite number above 1"),
])
def test_fit_settings_are_checked(problem, options, fragment):
    data, _ = problem
    with pytest.raises(ArgumentError, match=fragment):
        mc.Trainer(LOSS, [w], optimizer="gd").fit(data, progress=False, **options)


def test_negative_learning_rate_through_train_is_refused(problem):
    data, _ = problem
    with pytest.raises(ArgumentError, match="lr must be a finite number above 0"):
        mc.train(LOSS, [w], data, optimizer="gd", lr=-1, epochs=10, progress=False)


def test_adam_with_a_huge_learning_rate_ends_in_divergence_error(problem):
    """Adam's steps are bounded by lr, so lr = 1e6 keeps the loss finite (about 1e12) while
    it wanders; the growth of the loss over its first value is what reports it."""
    data, _ = problem
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+: the loss grew from .* smaller learning rate"):
        mc.train(LOSS, [w], data, optimizer="adam", lr=1e6, epochs=200, progress=False)
    result = mc.train(LOSS, [w], data, optimizer="adam", lr=1e6, epochs=5, progress=False, divergence=None)
    assert max(result.history) > 1e8 * result.history[0]   # what divergence=None lets through
    # a lively but sane rate is not mistaken for divergence
    mc.train(LOSS, [w], data, optimizer="adam", lr=10.0, epochs=200, progress=False)


def test_a_gradient_that_is_nan_at_the_start_does_not_blame_the_learning_rate():
    v = mc.colvec("v", "d")
    A, b = mc.matrix("A", "n", "d"), mc.colvec("b", "n")
    loss = mc.norm(A * v - b) ** 2 + mc.norm(v)   # v starts at 0, where ‖v‖ has no gradient
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="norm that the formula divides by"), \
            pytest.raises(DivergenceError, match="at the initial parameters, before any step"):
        mc.train(loss, [v], {"A": np.eye(3), "b": np.ones((3, 1))}, optimizer="gd", lr=0.1, epochs=5,
                 progress=False)
