"""How long `baton serve` takes to answer, and how much of that is importing libraries.

    python benchmarks/bench_startup.py [--runs 7] [--quick] [--out docs/benchmarks.md]

Each run starts `baton serve` over a fresh SQLite file and times it from the start of
the process until the first 200 from /healthz (polled every 10 ms). In the same run, a
second `baton serve` is started under ``python -X importtime`` and stopped once healthy;
the self time of every module it imported is summed per top-level package (the standard
library as one row), so the rows add up to its whole import time. A bare interpreter
(`python -c pass`) is timed as the floor. Figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Start-up: `baton serve` to its first healthy /healthz"
TOKEN = "admin:bench-startup-admin-token-0123456789"
ROWS = 10  # packages shown by name; the rest are summed as "other"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def serve_once(folder: Path, *python_flags: str) -> tuple[float, str]:
    """Seconds from starting `baton serve` to its first healthy answer, and its stderr."""
    from tests.processes import running

    port = free_port()
    command = [sys.executable, *python_flags, "-m", "baton", "--store"]
    command += [f"sqlite:///{folder}/baton.db", "serve", "--port", str(port)]
    env = {**os.environ, "BATON_API_TOKENS": TOKEN, "HOME": str(folder)}
    err_path = folder / "serve.err"
    with open(err_path, "w") as err:
        started = time.perf_counter()
        with running(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=err) as proc:
            while not healthy(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"baton serve exited: {err_path.read_text()}")
                if time.perf_counter() - started > 300:
                    raise RuntimeError("baton serve did not answer within 300 s")
                time.sleep(0.01)
            took = time.perf_counter() - started
    return took, err_path.read_text()


def import_times(stderr: str) -> dict[str, float]:
    """Seconds of import self time per top-level package, from ``-X importtime`` lines."""
    stdlib = sys.stdlib_module_names
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        root = name.strip().split(".")[0]
        package = "standard library" if root in stdlib or root.startswith("_") else root
        totals[package] += int(self_us) / 1e6
    return totals


def bare_interpreter() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=120)
    return time.perf_counter() - started


def measure(runs: int) -> tuple[list[float], list[float], list[dict[str, float]]]:
    serve: list[float] = []
    bare: list[float] = []
    imports: list[dict[str, float]] = []
    for n in range(runs):
        with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as traced:
            serve.append(serve_once(Path(plain))[0])
            imports.append(import_times(serve_once(Path(traced), "-X", "importtime")[1]))
        bare.append(bare_interpreter())
        print(f"run {n + 1}: serve {serve[-1]:.3f} s", flush=True)
    return serve, bare, imports


def render(serve: list[float], bare: list[float], imports: list[dict[str, float]]) -> str:
    packages = {name for run in imports for name in run}
    per_package = {name: [run.get(name, 0.0) for run in imports] for name in packages}
    ranked = sorted(packages, key=lambda name: statistics.median(per_package[name]), reverse=True)
    shown, rest = ranked[:ROWS], ranked[ROWS:]
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, by `python benchmarks/bench_startup.py`: "
        f"{len(serve)} runs, each a fresh process over a fresh SQLite file. Imports: self time "
        "per top-level package under `python -X importtime` (a second `baton serve` of the "
        "same run; the tracing itself adds to these figures).",
        "",
        "| what | median s | min s | max s |",
        "|---|---:|---:|---:|",
        _row("`baton serve` to first healthy /healthz", serve),
        _row("bare interpreter (`python -c pass`)", bare),
        _row("all imports of `baton serve`", [sum(run.values()) for run in imports]),
    ]
    lines += [_row(f"import: {name}", per_package[name]) for name in shown]
    if rest:
        other = [sum(run.get(name, 0.0) for name in rest) for run in imports]
        lines.append(_row(f"import: {len(rest)} other packages", other))
    return "\n".join(lines) + "\n"


def _row(what: str, values: list[float]) -> str:
    return f"| {what} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 runs, no doc update")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    table = render(*measure(3 if args.quick else args.runs))
    print(table)
    if not args.quick:
        from benchmarks.bench_sqlite import write_section

        write_section(Path(args.out), table, SECTION)


if __name__ == "__main__":
    main()
