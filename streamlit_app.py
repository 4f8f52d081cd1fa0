"""Pool Stand: the entry point only sets up the shared frame and routes to the pages."""

import streamlit as st

from app import frame
from app.ui import t

st.set_page_config(page_title="Pool Stand", page_icon=":material/local_taxi:", layout="wide")
frame.setup()

HOME = "app/pages/home.py"
pages = [
    st.Page(HOME, title=t("page.home"), icon=":material/home:", url_path="", default=True),
    st.Page("app/pages/playground.py", title=t("page.playground"), icon=":material/tune:",
            url_path="playground"),
    st.Page("app/pages/race.py", title=t("page.race"), icon=":material/join:", url_path="race"),
    st.Page("app/pages/live_lab.py", title=t("page.live"), icon=":material/database:", url_path="live"),
    st.Page("app/pages/compare.py", title=t("page.compare"), icon=":material/compare:", url_path="compare"),
    st.Page("app/pages/incident.py", title=t("page.incident"), icon=":material/troubleshoot:",
            url_path="incident"),
    st.Page("app/pages/sizing.py", title=t("page.sizing"), icon=":material/straighten:", url_path="sizing"),
    st.Page("app/pages/lessons.py", title=t("page.lessons"), icon=":material/school:", url_path="lessons"),
    st.Page("app/pages/glossary.py", title=t("page.glossary"), icon=":material/translate:",
            url_path="glossary"),
    st.Page("app/pages/reference.py", title=t("page.reference"), icon=":material/menu_book:",
            url_path="reference"),
    # The default page is served at "/" only; "/home" (an address people type and links use) is
    # the same script under a second, unlisted name. Listed after the others, so a link or
    # switch_page to HOME resolves to the first, at "/".
    st.Page(HOME, title=t("page.home"), icon=":material/home:", url_path="home", visibility="hidden"),
]
frame.language_picker()
frame.width_probe()
st.navigation(pages, position="top").run()
