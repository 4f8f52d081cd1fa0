"""Pool Stand's model: scenarios, a SimPy model of real pool libraries, the trace and its metrics.

Pure Python on SimPy and numpy: nothing here imports Streamlit or a database
driver, so the same code runs in tests, in the command line, in the app and
beside the live lab.
"""
