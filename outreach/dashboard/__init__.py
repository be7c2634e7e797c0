"""The dashboard: a Streamlit app in simplified Chinese over the published warehouse.

``make dashboard`` (``python -m outreach.dashboard``) serves it on ``OUTREACH_DASHBOARD_PORT``
(8501). ``data.py`` holds every query (no Streamlit there, so it is tested on its own);
``app.py`` is the entry point (filters, stamp, navigation); ``views/`` holds one script per
page; ``ui.py`` what the pages share. docs/DASHBOARD.md describes the pages.
"""
