"""Predict page: formulas (pasted or a CSV upload) -> every task's prediction with uncertainty.

Uses ``foundation_model.load(checkpoint).predict_with_errors(...)``: the same predictor as
``fm predict --input``. Rows that cannot be predicted are listed with their reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import foundation_model
from foundation_model.ui import context, predictions
from foundation_model.ui.safety import UserInputError

RESULT_KEY = "predict-result"
PACKAGE_DIR = str(Path(foundation_model.__file__).resolve().parent)  # fm's own warnings
CUSTOM = "Other path..."


def _load_predictor(path: str, mtime: float):
    """The predictor of a checkpoint, cached per (path, modification time)."""
    import streamlit as st

    @st.cache_resource(show_spinner="Loading the checkpoint...", max_entries=3)
    def load(path: str, mtime: float):
        del mtime  # cache key only
        import foundation_model

        loader = getattr(foundation_model, "load", None)
        if loader is None:
            raise UserInputError(
                "This version of foundation_model has no foundation_model.load(); "
                "update the repository to predict from checkpoints."
            )
        try:
            return loader(path)
        except (ValueError, KeyError) as exc:  # a checkpoint this version cannot use
            raise UserInputError(predictions.plain_message(exc)) from exc

    return load(path, mtime)


def _predictor_of(checkpoint: Path):
    """The (cached) predictor of the chosen checkpoint."""
    return _load_predictor(str(checkpoint), checkpoint.stat().st_mtime)


def _choose_checkpoint() -> Path | None:
    import streamlit as st

    cfg = context.settings()
    found = predictions.find_checkpoints(cfg.project_dir, [cfg.data_dir])
    options = [cfg.guard.display(p) for p in found] + [CUSTOM]
    chosen = st.selectbox(
        "Checkpoint",
        options,
        key="predict-ckpt",
        help="The shipped pretrained model first, then run checkpoints, newest first.",
    )
    if chosen == CUSTOM:
        if len(found) == 0:
            st.info("No checkpoint found under results/: train one with `fm fit`, or type a path.")
        chosen = st.text_input("Checkpoint path", key="predict-ckpt-path")
        if not chosen.strip():
            return None
    path = cfg.guard.resolve(chosen, must_exist=True)
    if path.suffix != ".ckpt" or not path.is_file():
        raise UserInputError(f"{chosen} is not a .ckpt file.")
    return path


def _read_inputs(checkpoint: Path):
    """Formulas (list) or an uploaded table, or None before the user gives any."""
    import streamlit as st

    cfg = context.settings()
    mode = st.radio("Input", ["Paste formulas", "Upload CSV"], horizontal=True, key="predict-mode")
    if mode == "Paste formulas":
        text = st.text_area(
            "Formulas (one per line, or separated by commas)",
            key="predict-formulas",
            height=140,
            placeholder="Fe2O3\nNaCl\nGaAs",
        )
        return predictions.parse_formulas(text) if text.strip() else None
    upload = st.file_uploader(
        f"CSV with a 'formula' column or the model's descriptor columns "
        f"(at most {cfg.max_upload_mb} MB)",
        type=["csv"],
        key="predict-upload",
    )
    if upload is None:
        return None
    column = st.text_input("Formula column", value="formula", key="predict-formula-column")
    data = context.read_upload(upload, cfg.max_upload_bytes)
    columns = list(_predictor_of(checkpoint).schema.formula.columns)
    return predictions.read_input_csv(data, column.strip() or "formula", columns)


def _show_results(result: dict) -> None:
    import streamlit as st

    preds, errors = result["predictions"], result["errors"]
    st.subheader(f"Predictions ({predictions.count_rows(len(preds))})")
    st.caption(f"Checkpoint: {result['checkpoint']}")
    for note in result.get("notes", []):  # e.g. points outside the training range
        st.warning(note)
    if not preds.empty:
        summary = predictions.summary_table(preds)
        if len(summary) <= 100:
            st.table(summary.set_index(summary.columns[0]))
        else:
            st.dataframe(summary, hide_index=True, width="stretch")
        _charts(preds, result["sequence_x"])
        with st.expander("All prediction columns"):
            st.dataframe(preds, hide_index=True, width="stretch")
        st.download_button(
            "Download predictions (CSV)",
            preds.to_csv(index=False),
            file_name="predictions.csv",
            mime="text/csv",
            key="predict-dl",
        )
    if errors is not None and not errors.empty:
        st.warning(f"{predictions.count_rows(len(errors))} could not be predicted:")
        st.table(errors.set_index("row") if "row" in errors else errors)
        st.download_button(
            "Download failed rows (CSV)",
            errors.to_csv(index=False),
            file_name="predictions.errors.csv",
            mime="text/csv",
            key="predict-dl-errors",
        )


def _charts(preds, sequence_x: dict) -> None:
    import streamlit as st

    groups = predictions.task_columns(preds)
    for task in groups.classification:
        st.markdown(f"**{task}**: class probabilities")
        st.bar_chart(predictions.probability_frame(preds, task), horizontal=True, stack=True)
    for task in groups.sequence:
        st.markdown(f"**{task}**: predicted curves")
        st.line_chart(predictions.sequence_frame(preds, task, sequence_x.get(task)))


def _sequence_x(predictor, inputs, errors) -> dict:
    """Per sequence task, the x points of each predicted row (input's own or the default)."""
    specs = getattr(getattr(predictor, "model", None), "task_specs", None) or []
    defaults = getattr(getattr(predictor, "schema", None), "sequence_points", None) or {}
    out = {}
    for spec in specs:
        if getattr(spec, "is_sequence", False):
            out[spec.name] = predictions.sequence_x_values(
                inputs, errors, getattr(spec, "x_column", None), defaults.get(spec.name)
            )
    return out


def render() -> None:
    """The predict page."""
    import streamlit as st

    st.title("Predict properties from formulas")
    checkpoint = _choose_checkpoint()
    if checkpoint is None:
        return
    inputs = _read_inputs(checkpoint)
    if st.button("Predict", type="primary", key="predict-run", disabled=inputs is None):
        predictor = _predictor_of(checkpoint)
        if isinstance(inputs, list):  # formulas: the model must featurize them itself
            schema = predictor.schema.formula
            predictions.require_featurizer(schema.featurizer, len(schema.columns))
        has_id = not isinstance(inputs, list) and "id" in inputs.columns
        with st.spinner("Predicting..."), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the predictor's notes go on the page, not the log
            try:
                preds, errors = predictor.predict_with_errors(
                    inputs, id_column="id" if has_id else None
                )
            except (ValueError, KeyError) as exc:  # the input does not fit the model
                raise UserInputError(predictions.plain_message(exc)) from exc
        notes = [str(w.message) for w in caught if w.filename.startswith(PACKAGE_DIR)]
        st.session_state[RESULT_KEY] = {
            "predictions": preds,
            "errors": errors,
            "notes": list(dict.fromkeys(notes)),
            "sequence_x": _sequence_x(predictor, inputs, errors),
            "checkpoint": context.settings().guard.display(checkpoint),
        }
    result = st.session_state.get(RESULT_KEY)
    if result is not None:
        _show_results(result)
