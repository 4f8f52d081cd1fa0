"""The errors view: the model's text, and for a live run what the library really raised beside it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app


def errors_view(live: bool) -> None:
    from app.results import error_texts
    from live.recorder import LiveTrace, caught_messages
    from sim.trace import Ev, Why

    model = {"kind": "error", "reason": "broken", "count": 2, "exception": "sqlalchemy.exc.DBAPIError",
             "message": "(sqlalchemy.dialects.postgresql.asyncpg.Error) connection was closed",
             "sqlstate": ""}
    trace = LiveTrace()
    trace.caught[(Ev.ERROR, Why.BROKEN)] = model | {"message": model["message"] + "\n[SQL: SELECT 1]"}
    error_texts({"messages": [model]}, caught_messages(trace) if live else None)


@pytest.mark.parametrize("live", [False, True])
def test_a_live_run_shows_what_was_really_raised_under_the_models_text(live: bool) -> None:
    at = AppTest.from_function(errors_view, kwargs={"live": live})
    at.run()
    assert not at.exception, at.exception
    model = "sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) connection was closed"
    assert [c.value for c in at.code] == ([model, model + "\n[SQL: SELECT 1]"] if live else [model])
    captions = [c.value for c in at.caption]
    assert ("Really raised in this run:" in captions) == live
    assert ("The model prints:" in captions) == live
