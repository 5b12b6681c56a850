"""The loss curve of a training run as a PNG (matplotlib is an optional extra).

Draws on a bare ``Figure`` with the Agg canvas, so it never touches pyplot's global state or
needs a display.
"""
from __future__ import annotations

import io

from .. import files
from ..errors import MatcalcError

__all__ = ["plot_loss"]


def plot_loss(history, path, *, title="Training loss", log_scale=None, xlabel="epoch", ylabel="loss",
              overwrite=True, what="plot", replace_with="pass overwrite=True"):
    """Save a line plot of ``history`` (a list of losses, or a TrainResult) to ``path``
    (written as :mod:`matcalc.files` writes; ``overwrite=False`` refuses an existing file).

    ``log_scale`` defaults to a logarithmic y axis when every loss is positive and they span
    more than two orders of magnitude.  Returns the path.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MatcalcError("the loss-curve plot needs matplotlib: pip install 'matcalc[plot]'") from exc
    values = [float(v) for v in getattr(history, "history", history)]
    if not values:
        raise MatcalcError("nothing to plot: the loss history is empty")
    if log_scale is None:
        log_scale = min(values) > 0 and max(values) / min(values) > 100
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(range(1, len(values) + 1), values, linewidth=1.5)
    if log_scale:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png")
    files.write(path, image.getvalue(), overwrite=overwrite, what=what, replace_with=replace_with)
    return path
