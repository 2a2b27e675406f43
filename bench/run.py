#!/usr/bin/env python3
"""Run Syrena's benchmarks: every bench/bench_*.py module, one after another.

    make bench                              # services up, SYRENA_* set, then this
    python bench/run.py [NAME ...] [--json FILE] [--repeat N]

A benchmark module exposes `main()`. It either returns a dict of results
(name -> number, string or a nested dict; put the unit in the name, e.g.
"send_rate_msg_per_s") or prints its own table and returns None. A benchmark
that raises is reported as FAILED and makes the run exit non-zero; the others
still run. NAME filters modules by substring ("fanout" runs bench_fanout.py).

Each run also writes its results with the machine description to
bench/results/<UTC time>.json (git-ignored scratch); figures worth keeping go,
by hand, into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


def discover(filters: list[str]) -> list[Path]:
    found = sorted(BENCH_DIR.glob("bench_*.py"))
    if filters:
        found = [p for p in found if any(f in p.stem for f in filters)]
    return found


def machine() -> dict[str, str | int | None]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "cpu": cpu or None,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit,
    }


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"bench.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def flatten(results: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in results.items():
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def summarise(runs: list[dict]) -> dict:
    """Several runs of one module: the median of every number (flattened keys), its min–max, and each run."""
    figures: dict[str, list] = {}
    for run in runs:
        for key, value in flatten(run):
            figures.setdefault(key, []).append(value)
    median, spread = {}, {}
    for key, values in figures.items():
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(runs):
            median[key] = statistics.median(numbers)
            spread[key] = f"{fmt(min(numbers))} – {fmt(max(numbers))}"
        else:  # text, lists: the value when every run agrees, else every run's
            median[key] = values[0] if all(v == values[0] for v in values) else values
    return {"runs": len(runs), "median": median, "min_max": spread, "each": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks in bench/bench_*.py.")
    parser.add_argument("names", nargs="*", help="run only modules whose name contains one of these")
    parser.add_argument("--json", type=Path, help="write results here (default: bench/results/<time>.json)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each module N times and report the median of every figure, with its min–max",
    )
    args = parser.parse_args(argv)

    # Benchmarks import the project's packages and may share helpers in bench/.
    for path in (str(ROOT), str(BENCH_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)

    modules = discover(args.names)
    if not modules:
        print("no benchmarks yet" if not args.names else f"no benchmark matches {' '.join(args.names)}")
        return 0

    info = machine()
    started = datetime.now(UTC)
    print(f"Syrena benchmarks — {started:%Y-%m-%d %H:%M} UTC, commit {info['commit'] or '?'}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, {info['os']}, Python {info['python']}")
    print("command: " + " ".join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)]))

    report = []
    for path in modules:
        name = path.stem.removeprefix("bench_")
        print(f"\n=== {name} ({path.relative_to(ROOT)})", flush=True)
        t0 = time.perf_counter()
        runs, status, error = [], "ok", None
        for n in range(max(args.repeat, 1)):
            try:
                results = load(path).main()
            except Exception:
                status, error = "FAILED", traceback.format_exc()
                print(error, file=sys.stderr, flush=True)
                break
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
                return 130
            if results is not None and not isinstance(results, dict):
                results = {"result": results}
            runs.append(results)
            if args.repeat > 1:
                print(f"run {n + 1} of {args.repeat}: " + json.dumps(results), flush=True)
        seconds = time.perf_counter() - t0
        results = (runs[0] if len(runs) == 1 else summarise(runs)) if runs and status == "ok" else None
        report.append(
            {"name": name, "status": status, "seconds": round(seconds, 3), "results": results, "error": error}
        )

    print("\n=== summary")
    width = max(len(r["name"]) for r in report)
    for r in report:
        print(f"{r['name']:<{width}}  {r['status']:<6}  {r['seconds']:8.1f} s")
        for key, value in flatten({k: v for k, v in (r["results"] or {}).items() if k != "each"}):
            print(f"{'':<{width}}    {key}: {fmt(value)}")

    out = (args.json or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json").resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"started": started.isoformat(), "machine": info, "benchmarks": report}, indent=2, default=str)
        + "\n"
    )
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    failed = [r["name"] for r in report if r["status"] != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
