"""Pool Stand: the entry point only sets up the shared frame and routes to the pages."""

import streamlit as st

from app import collector, frame
from app.ui import t

collector.tune()
st.set_page_config(page_title="Pool Stand", page_icon=":material/local_taxi:", layout="wide")
frame.setup()

HOME = "app/pages/home.py"
def page(path: str, key: str, icon: str, url_path: str, **options: bool) -> st.Page:
    return st.Page(path, title=t(f"page.{key}"), icon=f":material/{icon}:", url_path=url_path, **options)


# Grouped by what a visitor came for, so the top row fits 1280 px with the language picker: Home
# on its own, then a menu each for learning, trying, the real server and one's own pool.
pages = {
    "": [page(HOME, "home", "home", "", default=True)],
    t("nav.learn"): [page("app/pages/lessons.py", "lessons", "school", "lessons"),
                     page("app/pages/glossary.py", "glossary", "translate", "glossary"),
                     page("app/pages/reference.py", "reference", "menu_book", "reference")],
    t("nav.play"): [page("app/pages/playground.py", "playground", "tune", "playground"),
                    page("app/pages/race.py", "race", "join", "race")],
    t("nav.live"): [page("app/pages/live_lab.py", "live", "database", "live"),
                    page("app/pages/compare.py", "compare", "compare", "compare")],
    t("nav.yours"): [page("app/pages/incident.py", "incident", "troubleshoot", "incident"),
                     page("app/pages/sizing.py", "sizing", "straighten", "sizing"),
                     # The default page is served at "/" only; "/home" (an address people type and
                     # links use) is the same script under a second, unlisted name. Listed after the
                     # others, so a link or switch_page to HOME resolves to the first, at "/".
                     st.Page(HOME, title=t("page.home"), icon=":material/home:", url_path="home",
                             visibility="hidden")],
}
frame.language_picker()
frame.width_probe()
try:
    st.navigation(pages, position="top").run()
finally:   # also when the page stopped or asked for a rerun: its imports are done either way
    collector.freeze_once()
