"""Streamlit entry point of ``fm ui`` (``streamlit run`` this file; ``fm ui`` does it).

Importing this module has no effect; the app is built by :func:`main`, which Streamlit
runs because it executes the file as ``__main__``.
"""

from __future__ import annotations

PAGE_KEY = "_fm_pages"


def main() -> None:
    """Build the navigation and run the selected page."""
    import streamlit as st

    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import datagen, distill, predict, viewer

    st.set_page_config(page_title="foundation_model", page_icon=":material/science:", layout="wide")
    pages = {
        # the default page is served at the root URL (Streamlit ignores its url_path)
        "predict": st.Page(
            guarded(predict.render),
            title="Predict",
            url_path="home",
            icon=":material/query_stats:",
            default=True,
        ),
        "datagen": st.Page(
            guarded(datagen.render),
            title="Data generation",
            url_path="datagen",
            icon=":material/scatter_plot:",
        ),
        "distill": st.Page(
            guarded(distill.render),
            title="Distillation",
            url_path="distill",
            icon=":material/compress:",
        ),
        "viewer": st.Page(
            guarded(viewer.render),
            title="Results viewer",
            url_path="results",
            icon=":material/view_in_ar:",
        ),
    }
    st.session_state[PAGE_KEY] = pages

    def predict_alias() -> None:
        """``/predict`` (typed or bookmarked) opens the Predict page at the root URL."""
        st.switch_page(pages["predict"])

    alias = st.Page(predict_alias, title="Predict", url_path="predict", visibility="hidden")
    st.navigation([*pages.values(), alias]).run()


if __name__ == "__main__":
    main()
