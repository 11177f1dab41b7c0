"""The local web app (``fm ui``): predict, generate data, distil, and browse results.

Nothing here imports Streamlit at package import time; the app entry point is
:mod:`foundation_model.ui.app`, started by ``fm ui`` through ``streamlit run``. The
helpers :mod:`~foundation_model.ui.paths`, :mod:`~foundation_model.ui.jobs`,
:mod:`~foundation_model.ui.results` and :mod:`~foundation_model.ui.config_forms` are plain
Python and usable (and tested) without a browser.
"""
