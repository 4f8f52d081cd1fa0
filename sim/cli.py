"""`python -m sim`: run a scenario, or list the presets (contract 3).

Invalid input of any kind ends with one line on stderr and exit status 2,
so scripts and the lessons' tooling can tell a bad scenario from a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import IO, NoReturn

import tomli_w

from sim import budget
from sim.diagnose import MAX_TEXT, NothingRecognised, diagnose
from sim.errors import LibraryError
from sim.measures import group, measure, shown
from sim.metrics import Message, Metrics, summarize_run
from sim.model import run
from sim.pools import POOL_KINDS
from sim.scenario import Scenario, ScenarioError, load, load_preset, preset_names
from sim.sizing import THROUGH, Need, sweep
from sim.trace import Trace

EXIT_INVALID = 2
DEFAULT_LIMIT = 2_000_000   # work units (budget.work): about a minute and under 1 GB on a small machine


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors: one line, exit 2
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID)


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that name a scenario; `python -m live` takes the same ones."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("file", nargs="?", help="a scenario TOML file")
    which.add_argument("--preset", metavar="NAME", help="a preset from presets/ (see: presets)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field, e.g. --set pool.pool_size=20 (repeatable)")


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    scenario = load_preset(args.preset) if args.preset else load(args.file)
    return scenario.with_overrides(args.overrides) if args.overrides else scenario


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m sim", description="Simulate a connection pool scenario.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run_p = sub.add_parser("run", help="simulate a scenario and print its metrics")
    add_scenario_arguments(run_p)
    run_p.add_argument("--requests", type=int, metavar="N", help="stop arrivals after N requests")
    run_p.add_argument("--json", action="store_true", help="print one JSON object")
    run_p.add_argument("--trace", metavar="CSV", help="also write the event trace to this file")
    run_p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                       help=f"refuse a run expected to be more than N requests and connections "
                            f"(default {DEFAULT_LIMIT:,}); raise it for a bigger run on purpose")
    sub.add_parser("presets", help="list the presets")
    diag = sub.add_parser("diagnose", help="read an error, a log excerpt or a pool's configuration and "
                                           "print a scenario that shows the same failure")
    diag.add_argument("text", nargs="?", default="-", metavar="TEXT",
                      help="the text itself, or - (the default) to read it from standard input")
    diag.add_argument("--json", action="store_true", help="print one JSON object")
    add_size_arguments(sub.add_parser("size", help="simulate a range of pool sizes for your traffic and "
                                                   "recommend one that fits the server's budget"))
    return parser


def add_size_arguments(size: argparse.ArgumentParser) -> None:
    kinds = [k for k in POOL_KINDS if k != "none"]
    size.add_argument("--kind", choices=kinds, default="sqlalchemy", help="the pool library")
    size.add_argument("--instances", type=int, default=1, help="app processes, each with its own pool")
    size.add_argument("--workers", type=int, default=0,
                      help="requests one instance serves at once (workers x threads); 0 = no limit")
    size.add_argument("--rate", type=float, required=True, metavar="R",
                      help="requests per second, all instances together")
    size.add_argument("--phase", action="append", default=[], metavar="AT:RATE",
                      help="from AT seconds on, RATE requests per second (repeatable): a burst, a peak")
    hold = size.add_mutually_exclusive_group(required=True)
    hold.add_argument("--hold-ms", type=float, metavar="MEAN", help="mean time a request holds a connection")
    hold.add_argument("--hold-p50-ms", type=float, metavar="A", help="median hold time (with --hold-p95-ms)")
    size.add_argument("--hold-p95-ms", type=float, metavar="B", help="95th percentile hold time")
    size.add_argument("--max-connections", type=int, required=True, help="the server's max_connections")
    size.add_argument("--reserved", type=int, default=3, help="superuser_reserved_connections (default 3)")
    size.add_argument("--cores", type=int, default=0, help="the server's cores, for the rule of thumb")
    size.add_argument("--p99-wait-ms", type=float, default=10.0,
                      help="target p99 wait for a connection (default 10)")
    size.add_argument("--seeds", type=int, default=3, help="runs per size (default 3)")
    size.add_argument("--through", choices=THROUGH, default="none",
                      help="pgbouncer: the pools connect to PgBouncer in transaction mode, and the sizes "
                           "swept are its default_pool_size (the server connections), each instance's pool "
                           "fixed where it never limits and max_client_conn set to hold them all")
    size.add_argument("--json", action="store_true", help="print one JSON object")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `python -m sim presets | head`: the reader has gone, fine
        sys.stdout = None  # type: ignore[assignment]  # nothing left to flush at exit
        return 0


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name in preset_names():
                print(f"{name:28} {load_preset(name).description}")
            return 0
        if args.command == "diagnose":
            return _diagnose(args.text, args.json)
        if args.command == "size":
            return _size(args)
        if args.requests is not None and args.requests < 1:
            raise ScenarioError(f"--requests = {args.requests}: must be a whole number of at least 1")
        scenario = scenario_from_args(args)
        try:
            budget.check(scenario, budget.Limit(args.limit), args.requests)
        except budget.TooMuchWork as e:   # the limit that would let it through, from the work it measured
            raise ScenarioError(f"{e} To run it anyway: --limit {int(e.work.units) + 1}") from None
        trace_out = open_trace(args.trace)
        result = run(scenario, args.requests)
        metrics = summarize_run(result)
        if trace_out is not None:
            write_trace(result.trace, trace_out, args.trace)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(metrics, indent=2) if args.json else format_table(metrics))
    return 0



def _diagnose(text: str, as_json: bool) -> int:
    if text == "-":
        text = sys.stdin.read(MAX_TEXT + 1)
    try:
        found = diagnose(text)
    except NothingRecognised as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INVALID
    if as_json:
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"library: {POOL_KINDS[found.kind].library}")
    print(f"symptom: {found.symptom.value if found.symptom else 'none (a configuration)'}")
    for f in found.found:
        read = ", ".join(f"{k} = {v}" for k, v in f.settings.items())
        print(f"recognised {f.key}: {f.excerpt}" + (f"  [{read}]" if read else ""))
    for problem in found.problems:
        print(f"not used: {problem}")
    print(f"explained in lesson {found.lesson}; assumed: "
          + ", ".join(k for k in found.assumptions) + "\n")
    print(tomli_w.dumps(found.scenario), end="")
    return 0


def _phase(text: str) -> tuple[float, float]:
    at, _, rate = text.partition(":")
    try:
        return float(at), float(rate)
    except ValueError:
        raise ScenarioError(f"--phase = {text}: must be AT:RATE, e.g. 30:600") from None


def _size(args: argparse.Namespace) -> int:
    need = Need(kind=args.kind, instances=args.instances, workers=args.workers, rate_per_s=args.rate,
                phases=tuple(_phase(text) for text in args.phase),
                hold_ms=args.hold_ms, hold_p50_ms=args.hold_p50_ms, hold_p95_ms=args.hold_p95_ms,
                max_connections=args.max_connections, reserved=args.reserved, cores=args.cores,
                p99_wait_ms=args.p99_wait_ms, seeds=args.seeds, through=args.through)
    need.check()
    with ProcessPoolExecutor(os.cpu_count() or 1) as workers:
        found = sweep(need, workers)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
        return 0
    sized = "default_pool_size" if need.pooled else "size"
    if need.pooled:
        print(f"through PgBouncer (transaction mode): each instance's pool fixed at {need.app_pool}, "
              f"{need.clients} client connections; the sizes are PgBouncer's default_pool_size")
    width = max(len(sized), 5)
    print(f"{sized:>{width}} {'p95 wait ms':>12} {'p99 wait ms (95% CI)':>26} {'timed out':>10} "
          f"{'server conns':>13}")
    for r in found.rows:
        ci = f"{r.p99_wait_ms.mean:.1f} ({r.p99_wait_ms.low:.1f}-{r.p99_wait_ms.high:.1f})"
        mark = "  <- recommended" if r is found.recommended else ("  over budget" if not r.fits else "")
        print(f"{r.size:>{width}} {r.p95_wait_ms.mean:>12.1f} {ci:>26} {r.timed_out.mean:>10.2%} "
              f"{r.server_connections:>7}/{need.budget:<5}{mark}")
    settings = ", ".join(f"{k}={v}" for k, v in found.settings.items()) or "none meets the targets in budget"
    mine = " (each instance's pool)" if need.pooled and found.settings else ""
    print(f"\nrecommended: {settings}{mine}")
    if found.pgbouncer:
        print("  PgBouncer: " + ", ".join(f"{k}={v}" for k, v in found.pgbouncer.items()))
    rule = '-' if found.rule_of_thumb is None else f'{found.rule_of_thumb:.1f}'
    if need.pooled:
        print(f"PgBouncer's server connections: Little's law (busy on average, a floor) {found.little:.1f}; "
              f"Erlang C {found.erlang_c}; cores x 2 + spindles {rule}")
    else:
        print(f"Little's law (busy on average, a floor): {found.little:.1f}; Erlang C: {found.erlang_c}; "
              f"cores x 2 + spindles: {rule} per instance")
    return 0


def write_trace(trace: Trace, out: IO[str], path: str) -> None:
    """Write and close the --trace file; a full disk is an input error, not a traceback."""
    try:
        with out:
            trace.write_csv(out)
    except OSError as e:
        raise ScenarioError(f"--trace = {path}: cannot write there ({e.strerror})") from None


def open_trace(path: str | None) -> IO[str] | None:
    """The --trace file, opened before the run: a bad path is an input error, not a crash afterwards."""
    if path is None:
        return None
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise ScenarioError(f"--trace = {path}: cannot write there ({e.strerror})") from None


def message_lines(messages: list[Message]) -> list[str]:
    """Each failure's count and text; a text of several lines (SQLAlchemy's) stays under its first."""
    return [f"  {msg['count']:>6} x    " + str(LibraryError(msg["exception"], msg["message"]))
            .replace("\n", "\n" + " " * 15) for msg in messages]


SUMMARY: list[tuple[str, list[str], bool]] = [
    ("requests", ["requests", "completed", "timed_out", "errors.all", "in_flight", "leaked"], False),
    ("errors", [m.path for m in group("errors")], True),
    ("waited", ["p_wait"], False),
    ("wait ms", [m.path for m in group("wait_ms")], False),
    ("latency ms", [m.path for m in group("latency_ms")], False),
    ("worker wait", [m.path for m in group("worker_wait_ms")], False),
    ("retries", ["retries", "retried_completed", "retried_failed"], False),
    ("connects", ["connects"], False),
    ("closed", [m.path for m in group("closes")], True),
    ("pings", [m.path for m in group("pings")], True),
    ("peaks", [m.path for m in group("peak")], False),
    ("pooler", [m.path for m in group("pooler")], False),
    ("throughput", ["throughput_per_s"], False),
]
"""The command line's summary, a line per heading; with True, only the figures that are not zero."""

QUIET = {"worker wait", "retries", "peak.worker_queue"}
"""Headings left out, and figures not listed, when all they hold is zero: a run without app.workers or
workload.retries prints what it always did."""

ABSENT = {"pooler"}
"""Headings left out when the run has none of their figures: a run without a pooler has no SHOW POOLS."""


def format_table(m: Metrics) -> str:
    """A short human summary of a metrics object, in the registry's names."""
    lines = [f"{m['scenario']} ({m['pool']}), {m['duration_s']:.1f} s of scenario time"]
    for heading, paths, nonzero in SUMMARY:
        figures = [(f, f.read(m)) for f in map(measure, paths) if f.path not in QUIET or f.read(m)]
        if heading in QUIET and not any(v for _, v in figures):
            continue
        if heading in ABSENT and all(v is None for _, v in figures):
            continue
        items = [f"{'' if f.short == heading or len(paths) == 1 else f.short} {shown(f, v)}".strip()
                 for f, v in figures if v or not nonzero]
        lines.append(f"  {heading:12} " + (", ".join(items) or "none"))
    lines += message_lines(m.get("messages", []))
    if "theory" in m:
        th = m["theory"]
        lines.append(f"  Erlang C     P(wait) {th['p_wait']:.3f}, mean wait {th['mean_wait_ms']:.1f} ms "
                     f"(c = {th['servers']}, utilisation {th['utilisation']:.0%})")
    if "sim_seconds" in m:
        lines.append(f"  simulated in {m['sim_seconds']:.2f} s")
    return "\n".join(lines)
