"""Time of the output layer on the derivation families: ``mc.to_latex(d)`` and ``str(d)``.

    python benchmarks/render.py                       # this checkout, every case
    python benchmarks/render.py --compare OLD_ROOT    # OLD_ROOT's matcalc beside this one
    python benchmarks/render.py --timeout 60 mlp:16 softmax_nested:8

Each measurement runs in a fresh subprocess (so caches and interned nodes do not carry
over, and a runaway case can be stopped at ``--timeout`` seconds).  Reported: the derive
time, then the time and the length in characters of the LaTeX article and of the text.
This is a benchmark, not a test (``tests/output/test_render_scaling.py`` counts sizes).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ["mlp:2", "mlp:8", "mlp:16", "mlp:32", "tanh_nested:30", "softmax_nested:2",
         "softmax_nested:4", "softmax_nested:8", "softmax_nested:16", "sigmoid_hessian:4",
         "transformer:1"]

_CHILD = r"""
import json, sys, time
sys.path.insert(0, {families!r})
import matcalc as mc, families
family, k, what = {family!r}, {k!r}, {what!r}
f, wrt, kind = getattr(families, family)(k)
t = time.perf_counter()
d = mc.derive(f, wrt, kind=kind)
derive = time.perf_counter() - t
t = time.perf_counter()
out = mc.to_latex(d) if what == "latex" else str(d)
print(json.dumps({{"derive": derive, "seconds": time.perf_counter() - t, "length": len(out)}}))
"""


def measure(root, case, what, timeout):
    """{derive, seconds, length} of one case in a fresh interpreter, or None on timeout."""
    family, k = case.split(":")
    code = _CHILD.format(families=str(HERE), family=family, k=int(k), what=what)
    env = dict(os.environ, PYTHONPATH=str(root))
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=str(root))
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cell(result, timeout):
    if result is None:
        return f"> {timeout:g} s".rjust(22)
    if "error" in result:
        return ("error: " + result["error"])[:22].rjust(22)
    return f"{result['seconds']:8.3f} s {result['length']:>10,} ch"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=CASES, help="family:k (default: the standard set)")
    parser.add_argument("--compare", metavar="OLD_ROOT", help="another checkout to time beside this one")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    options = parser.parse_args(argv)
    roots = [("now", HERE.parent)]
    if options.compare:
        roots.insert(0, ("before", Path(options.compare).resolve()))
    header = f"{'case':20s} {'derive':>8s}"
    for label, _ in roots:
        header += f" | {label + ' to_latex':>22s} | {label + ' str':>22s}"
    print(header, flush=True)
    for case in options.cases:
        line, derive = "", None
        for _, root in roots:
            for what in ("latex", "text"):
                result = measure(root, case, what, options.timeout)
                derive = derive or (result or {}).get("derive")
                line += " | " + cell(result, options.timeout)
        print(f"{case:20s} {derive or float('nan'):7.3f}s" + line, flush=True)


if __name__ == "__main__":
    main()
