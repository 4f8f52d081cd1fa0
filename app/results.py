"""The results of one run, drawn the same way whether the trace came from the model or from PostgreSQL.

Metric cards, the taxi stand, the charts, the libraries' exact error texts,
the trace itself and the downloads: everything here reads only the trace,
the scenario and the metrics computed from them, which is what lets the
playground and the live lab share it line for line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st

from app import charts, frame, i18n, taxi
from app.figure import STILL, draw
from app.ui import file_stem, lang, lazy_tabs, num, pct, shown, t
from live.recorder import caught_messages
from sim.errors import LibraryError
from sim.measures import measure
from sim.metrics import Metrics
from sim.scenario import Scenario
from sim.trace import EV_NAMES, WHY_NAMES, Trace

TABLE_ROWS = 2000


CARDS = ["completed", "timed_out", "errors.all", "leaked", "wait_ms.p95", "peak.open"]
"""The six figures (`sim.measures` paths) that say how a run went."""


def metric_label(path: str) -> str:
    """A figure's name in the page's language."""
    return t(f"metric.{path}")


CARDS_CSS = """<style>
/* A phone's window: the cards two by two, three rows, not a column of six (Streamlit stacks columns). */
@media (max-width: 699.98px) {
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]) {
    display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
  }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]) > * {
    width: auto; min-width: 0;
  }
}
</style>"""


def metric_cards(metrics: Metrics, other: Metrics | None = None) -> None:
    """Six numbers that say how the run went; with `other`, each shows its difference from it.

    In a row of six on a wide window; on a phone's window in two columns (`CARDS_CSS`: a media
    query, so it holds even when the browser could not say its width with a cookie).
    """
    st.html(CARDS_CSS)
    for col, figure in zip(st.columns(len(CARDS)), map(measure, CARDS), strict=True):
        value = figure.read(metrics)
        theirs = None if other is None else figure.read(other)
        delta = None if value is None or theirs is None else value - theirs
        with col:
            st.metric(metric_label(figure.path), shown(value), delta=None if delta is None else shown(delta),
                      delta_color="inverse" if figure.lower_is_better else "normal", border=True)


FRAMES = 120
"""At most this many frames per stand: bins of 0.25 s up to a 30 s run, 0.5 s up to a minute. Each frame
costs on every control change, in the server's build and in the browser's redraw: at 200 (0.25 s bins
up to 50 s) the playground's default stand took some 75 ms longer to redraw after a slider moved
(`bench/app_speed.py`), for a picture that showed no more at the speed it is watched at."""


@st.cache_resource(max_entries=16, show_spinner=False)
def taxi_figure(run_key: str, lang: str, _trace: Trace, _scenario: Scenario, end_s: float,
                height: int = taxi.HEIGHT, plot_px: float = taxi.WIDE_PLOT_PX, narrow: bool = False) -> Any:
    """The animation of one run, built once per run, language and size (reruns only re-send it);
    `narrow`: for a phone (then `height` and `plot_px` are the phone's own)."""
    return taxi.build_taxi_figure(_trace, _scenario, end_s, **stand_words(lang), max_frames=FRAMES,
                                  height=height, plot_px=plot_px, narrow=narrow)


def stand_words(in_lang: str) -> dict[str, Any]:
    """The taxi stand's words, numbers and plurals in a language: `build_taxi_figure`'s own arguments."""
    return {"text": i18n.texts(in_lang, "taxi"), "number": lambda x: _number(x, in_lang),
            "plural": lambda n: i18n.plural(in_lang, n)}


CHARTS: dict[str, Callable[..., Any]] = {
    "levels": charts.connections_over_time, "waits": charts.wait_histogram,
    "timeline": charts.connection_timeline}


@st.cache_resource(max_entries=32, show_spinner=False)
def chart_figure(name: str, run_key: str, lang: str, _trace: Trace, _scenario: Scenario, end_s: float) -> Any:
    """One chart of one run, built once per run and language (opening any tab reruns the page)."""
    return CHARTS[name](_trace, _scenario, end_s, text=i18n.texts(lang, "charts"),
                        number=lambda x: _number(x, lang))


def show_results(trace: Trace, scenario: Scenario, end_s: float, metrics: Metrics, key: str,
                 run_key: str | None = None) -> None:
    """Everything about one run; `run_key` names the run for caching (the scenario's TOML by default).

    A page that lays the run out itself (the playground: the stand beside its
    controls, the numbers under it) calls `stand`, `metric_cards` and `details`.
    """
    metric_cards(metrics)
    st.subheader(t("results.taxi_stand"))
    stand(trace, scenario, end_s, key, run_key)
    details(trace, scenario, end_s, metrics, key, run_key)


def stand(trace: Trace, scenario: Scenario, end_s: float, key: str, run_key: str | None = None,
          height: int = taxi.HEIGHT, plot_px: float = taxi.WIDE_PLOT_PX, at_s: float | None = None) -> None:
    """The taxi stand of one run, `height` px tall, its taxis sized for a plot area `plot_px` wide;
    standing at `at_s` (a scene) instead of the start when given. On a phone (`frame.narrow()`)
    it is drawn for the phone's width instead, as tall as its rows need."""
    narrow = frame.narrow()
    if narrow:   # one figure per run for every phone, whichever page asks
        height, plot_px = taxi.HEIGHT, taxi.NARROW_PLOT_PX
    figure = taxi_figure(run_key or scenario.to_toml(), lang(), trace, scenario, end_s, height, plot_px,
                         narrow=narrow)
    if at_s is not None:
        figure = taxi.starting_at(figure, end_s, at_s, FRAMES)
    draw(figure, f"{key}.taxi", STILL)


def details(trace: Trace, scenario: Scenario, end_s: float, metrics: Metrics, key: str,
            run_key: str | None = None) -> None:
    """The charts, the error texts, the trace and the downloads of one run, one tab drawn at a time."""
    run = run_key or scenario.to_toml()

    def chart(name: str) -> None:
        figure = chart_figure(name, run, lang(), trace, scenario, end_s)
        draw(figure, f"{key}.{name}", when_seen=True)

    views = {
        "connections": lambda: chart("levels"),
        "waits": lambda: _waits_view(chart, metrics),
        "timeline": lambda: chart("timeline"),
        "errors": lambda: error_texts(metrics, caught_messages(trace)),
        "trace": lambda: trace_table(trace, key),
        "downloads": lambda: downloads(trace, scenario, metrics, key),
    }
    # Only the open tab is drawn: each chart is a plotly figure the browser would lay out even when hidden.
    view, tab = lazy_tabs(f"{key}.view", list(views), lambda v: t(f"results.tab.{v}"))
    with tab:
        views[view]()


def _number(x: float, in_lang: str) -> str:
    """Whole numbers without decimals, others with up to two: clocks, counters, speeds."""
    return i18n.number(in_lang, x, 0 if float(x).is_integer() else 2)


def _waits_view(chart: Callable[[str], None], metrics: Metrics) -> None:
    chart("waits")
    _waits_summary(metrics)


def _waits_summary(metrics: Metrics) -> None:
    w = metrics["wait_ms"]
    st.caption(t("results.waits_summary", share=pct(metrics["p_wait"]), p50=num(w["p50"], 1),
                 p95=num(w["p95"], 1), p99=num(w["p99"], 1)))


def error_texts(metrics: Metrics, caught: list[dict[str, Any]] | None = None) -> None:
    """What the library would have printed, verbatim, how often, and what it means.

    For a live run (`caught`, its requests' real exceptions by kind and reason),
    what the library really raised is shown under the model's text for it.
    """
    messages = metrics.get("messages", [])
    if not messages:
        st.success(t("results.no_errors"))
        return
    real = {(c["kind"], c["reason"]): c for c in caught or []}
    for m in messages:
        text = str(LibraryError(m["exception"], m["message"]))
        st.markdown(f"**{t('results.times', count=num(m['count'], 0))}**"
                    + (f" · SQLSTATE `{m['sqlstate']}`" if m.get("sqlstate") else ""))
        seen = real.get((m["kind"], m["reason"]))
        if seen is not None:
            st.caption(t("results.model_text"))
        st.code(text, language=None, wrap_lines=True)
        if seen is not None:
            st.caption(t("results.caught_text"))
            st.code(str(LibraryError(seen["exception"], seen["message"])), language=None, wrap_lines=True)
        st.caption(t(f"explain.{m['kind']}.{m['reason']}", _default=t("explain.fallback")))


def trace_table(trace: Trace, key: str) -> None:
    import pandas as pd

    cols_ = trace.columns()
    frame = pd.DataFrame({name: values.copy() for name, values in cols_.items()})
    frame["kind"] = pd.Categorical.from_codes(frame["kind"], EV_NAMES)
    frame["reason"] = pd.Categorical.from_codes(frame["reason"], WHY_NAMES)
    cols = st.columns([3, 1, 1])
    with cols[0]:
        kinds = st.multiselect(t("results.filter_kinds"), EV_NAMES, key=f"{key}.kinds")
    with cols[1]:
        request = st.number_input(t("results.filter_request"), value=None, step=1, key=f"{key}.request")
    with cols[2]:
        conn = st.number_input(t("results.filter_conn"), value=None, step=1, key=f"{key}.conn")
    if kinds:
        frame = frame[frame["kind"].isin(kinds)]
    if request is not None:
        frame = frame[frame["request"] == int(request)]
    if conn is not None:
        frame = frame[frame["conn"] == int(conn)]
    st.caption(t("results.rows", shown=num(min(len(frame), TABLE_ROWS), 0), total=num(len(frame), 0)))
    st.dataframe(frame.head(TABLE_ROWS), hide_index=True, width="stretch", height=360)


def downloads(trace: Trace, scenario: Scenario, metrics: Metrics, key: str) -> None:
    cols = st.columns(3)
    stem = file_stem(scenario.name)
    cols[0].download_button(t("results.download_scenario"), scenario.to_toml(), f"{stem}.toml",
                            "application/toml", key=f"{key}.dl.toml")
    cols[1].download_button(t("results.download_trace"), trace.to_csv, f"{stem}-trace.csv",
                            "text/csv", key=f"{key}.dl.csv")
    cols[2].download_button(t("results.download_metrics"), json.dumps(metrics, indent=2),
                            f"{stem}-metrics.json", "application/json", key=f"{key}.dl.json")
