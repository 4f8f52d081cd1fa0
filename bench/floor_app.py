"""The floor `bench/app_speed.py` measures the app against: Streamlit with one slider and one plotly figure.

A bare page, served and timed the same way in the same run: its first render
is what loading Streamlit and its plotly.js (st.plotly_chart, Streamlit's own
way to draw a figure) costs on this machine at this moment,
its control change what a rerun and a redrawn figure cost with nothing to
compute. The app's figures over these say what the app adds, and stay
comparable when the machine is slower one hour than the next. The slider and
the figure carry the playground's label and key, so the same selectors find them.
"""

import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="floor", layout="wide")
size = st.slider("pool_size", 0, 100, 10)
figure = go.Figure(go.Scatter(x=[0, 1], y=[0, size]), layout={"height": 400})
st.plotly_chart(figure, key="pg.taxi", theme=None, config={"displayModeBar": False})
