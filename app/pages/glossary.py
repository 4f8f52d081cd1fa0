"""The course's terms in the session's language, each with the English term a search engine knows."""

import streamlit as st

from app.i18n import DEFAULT
from app.incident import PREFILL_MAX, looks_like_an_error
from app.lessons import glossary
from app.ui import lang, t

st.title(t("glossary.title"))
st.write(t("glossary.intro"))
terms = glossary(lang())
english = glossary(DEFAULT)
searched = st.text_input(t("glossary.search"), key="glossary.search")
wanted = searched.strip().casefold()
if looks_like_an_error(searched):   # a pasted error: the incident page reads it (the link carries it as text)
    st.page_link("app/pages/incident.py", label=t("glossary.incident"), icon=":material/troubleshoot:",
                 query_params={"text": searched[:PREFILL_MAX]}
                 | ({} if lang() == DEFAULT else {"lang": lang()}))
shown = 0
for key, entry in sorted(terms.items(), key=lambda kv: kv[1]["term"].casefold()):
    original = english.get(key, {}).get("term", "")
    texts = (entry["term"], original, entry["definition"])
    if wanted and not any(wanted in text.casefold() for text in texts):
        continue
    shown += 1
    aside = f" ({original})" if original and original != entry["term"] else ""
    st.markdown(f"**{entry['term']}**{aside} — {entry['definition']}")
if not shown:
    st.info(t("glossary.none"))
