"""The long differential run: random expressions, matcalc against JAX autodiff.

    PYTHONPATH=. .venv/bin/python scripts/differential.py --cases 3000 --seed 1000 \\
        --time-limit 10 --json differential.json

Case i uses seed S + i, so any case can be replayed alone (``--seed S+i --cases 1``).
Prints a progress line, the counts (PASS / WRONG / REFUSED / CRASH / SLOW / SKIP), then
each family with its shortest reproducer (shrunk, unless ``--no-shrink``).  Exit status 1
if any check is WRONG, CRASH or SLOW, 2 if the harness itself failed on some case, else 0.
The library is ``tests/differential.py``; the CI slice is ``tests/test_differential.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # before scripts/: this file is also called differential

import differential as D  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="number of random expressions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first case")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per check (SLOW beyond)")
    parser.add_argument("--max-depth", type=int, default=4, help="deepest expression tree")
    parser.add_argument("--awkward", type=float, default=0.4, help="share of awkward symbol names")
    parser.add_argument("--budget", type=float, default=None,
                        help="stop drawing new cases after this many seconds (the report covers those run)")
    parser.add_argument("--no-shrink", action="store_true", help="keep the unshrunk reproducers")
    parser.add_argument("--no-triage", action="store_true", help="skip the name triage of failures")
    parser.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--json", help="write the report as JSON to this file")
    args = parser.parse_args(argv)

    summary = D.Summary()
    harness_errors = []
    start = last = time.perf_counter()
    ran = 0
    for i in range(args.cases):
        now = time.perf_counter()
        if args.budget is not None and now - start > args.budget:
            print(f"budget of {args.budget:.0f} s used: stopping after {ran} cases", flush=True)
            break
        seed = args.seed + i
        try:
            case = D.generate_case(seed, max_depth=args.max_depth, awkward=args.awkward)
            if case is None:
                continue
            summary.add(D.run_case(case, time_limit_s=args.time_limit, triage=not args.no_triage))
        except Exception as error:   # noqa: BLE001 - a harness bug must not end a long run
            harness_errors.append({"seed": seed, "error": f"{type(error).__name__}: {error}",
                                   "traceback": traceback.format_exc(limit=-3)})
            print(f"harness error on seed {seed}: {type(error).__name__}: {error}", flush=True)
        ran += 1
        if time.perf_counter() - last >= args.progress or i + 1 == args.cases:
            last = time.perf_counter()
            counts = " ".join(f"{s}={n}" for s, n in summary.counts.items())
            print(f"[{i + 1}/{args.cases}] {last - start:6.0f} s  {counts}  families={len(summary.families)}",
                  flush=True)
    run_seconds = time.perf_counter() - start

    if not args.no_shrink and summary.failures():
        print(f"shrinking the reproducers of {len(summary.failures())} failing families…", flush=True)
        summary.shrink_reproducers(time_limit_s=args.time_limit)
    total_seconds = time.perf_counter() - start

    print()
    print(summary.report())
    refused = D.refused_names()
    if refused:
        print("\nnames mc.parse refuses (not drawn): " + ", ".join(sorted(refused)))
    if harness_errors:
        print(f"\n{len(harness_errors)} harness errors, first: seed {harness_errors[0]['seed']}: "
              f"{harness_errors[0]['error']}")
    print(f"\n{ran} cases in {run_seconds:.0f} s (+{total_seconds - run_seconds:.0f} s shrinking); "
          f"seeds {args.seed}..{args.seed + ran - 1}, max depth {args.max_depth}, time limit {args.time_limit} s")

    if args.json:
        report = summary.to_json()
        report.update({"arguments": vars(args), "seconds": round(total_seconds, 1),
                       "refused_names": refused, "harness_errors": harness_errors})
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    if summary.failures():
        return 1
    return 2 if harness_errors else 0


if __name__ == "__main__":
    sys.exit(main())
