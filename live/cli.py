"""`python -m live`: run a scenario on a real PostgreSQL, compare it with the simulation, calibrate.

The server is the embedded sandbox, or the one in DATABASE_URL (whose
password is never printed). Invalid input, a scenario the live lab cannot or
must not run, and an unreachable server all end with one line on stderr and
exit status 2, as in `python -m sim`. SIGTERM ends a run as Ctrl-C does: its
connections are closed and the sandbox server stopped and deleted.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from types import FrameType
from typing import Any

from live import concurrency
from live.calibrate import measure
from live.compare import compare, format_comparison, live_metrics
from live.limits import CONNECT_TIMEOUT_S, check_connect_timeout, check_samples, check_time_scale
from live.reach import reach
from live.runner import run
from live.server import SANDBOX, LiveError, external
from live.session import one_line
from sim.cli import (
    EXIT_INVALID,
    Parser,
    add_scenario_arguments,
    format_table,
    message_lines,
    open_trace,
    scenario_from_args,
)
from sim.crowding_fit import fit
from sim.scenario import ScenarioError


def build_parser() -> Parser:
    parser = Parser(prog="python -m live",
                    description="Run a scenario against a real PostgreSQL (embedded, or DATABASE_URL).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run_p = sub.add_parser("run", help="run a scenario live and print its metrics")
    cmp_p = sub.add_parser("compare", help="simulate and run live, side by side")
    for p in (run_p, cmp_p):
        add_scenario_arguments(p)
        p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                       help="run X times faster than the scenario's clock (results stay on its clock)")
        p.add_argument("--requests", type=int, metavar="N", help="stop arrivals after N requests")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    run_p.add_argument("--trace", metavar="CSV", help="also write the event trace to this file")
    cal = sub.add_parser("calibrate", help="measure this server's connect cost and round trip, or with "
                                           "--concurrency how it slows down when crowded")
    cal.add_argument("--samples", type=int, default=15, metavar="N", help="connects to time (default 15)")
    cal.add_argument("--concurrency", action="store_true",
                     help="time 1, 2, 4 ... 64 clients at once (a hot-row UPDATE and a CPU part) and fit "
                          "[database] contention and coherency to the curve")
    cal.add_argument("--json", action="store_true", help="print one JSON object")
    for p in (run_p, cmp_p, cal):
        p.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT_S, metavar="S",
                       help=f"give up on a server that does not answer within S seconds "
                            f"(default {CONNECT_TIMEOUT_S:g})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = os.environ.get("DATABASE_URL") or None
    signal.signal(signal.SIGTERM, _as_sigint)
    try:
        check_connect_timeout(args.connect_timeout)
        if args.command == "calibrate" and args.concurrency:
            return calibrate_concurrency(url, args.json, args.connect_timeout)
        if args.command == "calibrate":
            return calibrate(url, args.samples, args.json, args.connect_timeout)
        if args.requests is not None and args.requests < 1:
            raise ScenarioError(f"--requests = {args.requests}: must be a whole number of at least 1")
        check_time_scale(args.time_scale)
        scenario = scenario_from_args(args)
        trace_out = open_trace(getattr(args, "trace", None))
        if args.command == "compare":
            result = asyncio.run(compare(scenario, url, args.time_scale, args.requests, args.connect_timeout))
            print(json.dumps(result, indent=2) if args.json else format_comparison(result))
            return 0
        live = asyncio.run(run(scenario, database_url=url, time_scale=args.time_scale,
                               max_requests=args.requests, connect_timeout_s=args.connect_timeout))
    except (ScenarioError, LiveError) as e:
        print(f"error: {one_line(e, url) if isinstance(e, LiveError) else e}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("stopped; the run's connections were closed", file=sys.stderr)
        return 130
    # the scenario as it ran: the installed library's settings, and how its server was reached
    metrics = live_metrics(live)
    if trace_out is not None:
        with trace_out:
            live.trace.write_csv(trace_out)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        info = metrics["live"]
        print(format_table(metrics))
        if info["messages"]:
            print("  really raised in this run:")
            print("\n".join(message_lines(info["messages"])))
        print(f"  live         on {info['server']} as {info['application_name']}, "
              f"{info['wall_seconds']:.1f} s wall clock (time scale {info['time_scale']:g}); "
              f"connections left on the server: {info['left_open']}")
    return 0


def _as_sigint(_signum: int, frame: FrameType | None) -> None:
    """SIGTERM takes Ctrl-C's path: asyncio.run cancels the run, its cleanup and the exit hooks run.

    Without it the process died at once with -15, leaving its sandbox server
    running and its data directory behind until some later start reaped them.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)   # asyncio.run's own handler while a run goes on
    else:
        raise KeyboardInterrupt


def calibrate_concurrency(url: str | None, as_json: bool, connect_timeout_s: float = CONNECT_TIMEOUT_S
                          ) -> int:
    target = external(url) if url else SANDBOX.target()
    try:
        points = asyncio.run(concurrency.measure(target, connect_timeout_s=connect_timeout_s))
    except LiveError:
        raise
    except Exception as e:
        raise LiveError(f"on {target.display}: {type(e).__name__}: {e}") from None
    found = fit([p.concurrency for p in points], [p.throughput_per_s for p in points])
    measured_peak = max(points, key=lambda p: p.throughput_per_s).concurrency
    database = {"contention": round(found.crowding.sigma, 5), "coherency": round(found.crowding.kappa, 6)}
    if as_json:
        print(json.dumps({"server": target.display, "database": database, "x1_per_s": found.x1,
                          "points": [{**p.__dict__, "fitted_per_s": found.throughput(p.concurrency)}
                                     for p in points],
                          "max_rel_error": found.max_rel_error, "peak_measured": measured_peak,
                          "peak_fitted": found.crowding.peak}))
        return 0
    top = max(max(p.throughput_per_s, found.throughput(p.concurrency)) for p in points)
    print(f"# measured on {target.display}: transactions a second, n clients at once "
          f"(# measured, + fitted)")
    for p in points:
        fitted = found.throughput(p.concurrency)
        bar = _bar(p.throughput_per_s / top, fitted / top)
        print(f"{p.concurrency:>4} {p.throughput_per_s:>9.0f} {fitted:>9.0f} {p.latency_ms:>8.1f} ms  {bar}")
    peak = found.crowding.peak
    print(f"# peak: measured at {measured_peak}, fitted at {'-' if peak is None else f'{peak:.1f}'}; "
          f"largest error {found.max_rel_error:.1%}")
    print("[database]")
    for key, value in database.items():
        print(f"{key} = {value}")
    return 0


def _bar(measured: float, fitted: float, width: int = 40) -> str:
    """Two values of 0..1 on one line: '#' up to the measured, '+' where the fitted one ends."""
    cells = ["#" if i < round(measured * width) else " " for i in range(width)]
    cells[min(max(round(fitted * width) - 1, 0), width - 1)] = "+"
    return "".join(cells).rstrip()


def calibrate(url: str | None, samples: int, as_json: bool, connect_timeout_s: float = CONNECT_TIMEOUT_S
              ) -> int:
    check_samples(samples)
    target = external(url) if url else SANDBOX.target()

    async def go() -> Any:
        import asyncpg
        await reach(target, connect_timeout_s)
        return await measure(lambda: asyncpg.connect(target.dsn, timeout=connect_timeout_s), samples)

    try:
        costs = asyncio.run(go())
    except LiveError:
        raise
    except Exception as e:
        raise LiveError(f"cannot connect to {target.display}: {type(e).__name__}: {e}") from None
    if as_json:
        print(json.dumps({"server": target.display, "database": costs.as_database()}))
    else:
        print(f"# measured on {target.display}, median of {samples}")
        print("[database]")
        for key, value in costs.as_database().items():
            print(f"{key} = {value}")
    return 0
