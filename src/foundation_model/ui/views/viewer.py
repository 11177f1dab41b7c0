"""Results viewer: open an ASE database or a run folder.

A filterable table of structures (energy, forces, provenance), a 3D view of the selected
one, the run's PNG plots, metrics curves and summary.
"""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui import context, results
from foundation_model.ui.paths import PathGuard
from foundation_model.ui.safety import UserInputError

PATH_KEY = "viewer_path"


def _choose_path(guard: PathGuard, roots: list[Path]) -> Path | None:
    """A path typed by the user or picked from what was found under the allowed folders."""
    import streamlit as st

    target = st.session_state.pop(context.VIEWER_TARGET_KEY, None)
    if target:
        st.session_state[PATH_KEY] = guard.display(Path(target))
    found = results.find_openable(roots)
    options = [""] + [guard.display(p) for p in found]

    def copy_pick() -> None:
        if st.session_state.get("viewer_pick"):
            st.session_state[PATH_KEY] = st.session_state["viewer_pick"]

    st.selectbox(
        "Found databases and run folders",
        options,
        index=0,
        key="viewer_pick",
        on_change=copy_pick,
        help="Under the project's results/ and data/ folders and the --data-dir folder.",
    )
    typed = st.text_input(
        "Path of an ASE database (.db) or a run folder",
        key=PATH_KEY,
        placeholder="results/ui/jobs/<run>/ or data/my_structures.db",
    )
    if not typed.strip():
        return None
    return guard.resolve(typed, must_exist=True)


def _database_section(path: Path, project_dir: Path) -> None:
    import streamlit as st

    table, total = results.read_database(path)
    shown = f" (first {len(table)} read)" if len(table) < total else ""
    st.markdown(f"**{path.name}: {total} structures**{shown}")
    if table.empty:
        st.info("The database has no rows.")
        return
    filtered = _filters(table, key=str(path))
    st.caption(f"{len(filtered)} of {len(table)} rows match the filters.")
    st.dataframe(
        filtered, hide_index=True, width="stretch", height=min(400, 35 * (len(filtered) + 1) + 3)
    )
    if filtered.empty:
        return
    labels = {int(r.id): f"{r.id}: {r.formula} ({r.natoms} atoms)" for r in filtered.itertuples()}
    row_id = st.selectbox(
        "Structure to view", list(labels), format_func=labels.get, key=f"row-{path}"
    )
    _structure_view(path, row_id, project_dir)


def _filters(table, key: str):
    import streamlit as st

    cols = st.columns(3)
    text = cols[0].text_input("Formula contains", key=f"f-formula-{key}")
    energy_range = None
    energies = table["energy_per_atom"].dropna()
    if len(energies) > 1 and energies.min() < energies.max():
        low, high = float(energies.min()), float(energies.max())
        energy_range = cols[1].slider(
            "Energy per atom (eV)", low, high, (low, high), format="%.4f", key=f"f-energy-{key}"
        )
    equals = {}
    categorical = results.categorical_columns(table)
    if categorical:
        column = cols[2].selectbox("Filter by key", ["(none)"] + categorical, key=f"f-key-{key}")
        if column != "(none)":
            values = sorted(table[column].dropna().unique().tolist(), key=str)
            equals[column] = cols[2].multiselect(f"{column} is", values, key=f"f-val-{key}")
    return results.filter_table(table, text, energy_range, equals)


def _structure_view(path: Path, row_id: int, project_dir: Path) -> None:
    import streamlit as st

    from foundation_model.ui.structure_view import structure_html

    atoms = results.read_atoms(path, row_id)
    left, right = st.columns([3, 2])
    with left:
        st.iframe(structure_html(atoms, project_dir), height=440)
    with right:
        st.markdown(f"**{atoms.get_chemical_formula()}**, {len(atoms)} atoms")
        lengths = atoms.cell.lengths()
        if atoms.cell.rank == 3:
            st.markdown("Cell lengths (Å): " + ", ".join(f"{x:.3f}" for x in lengths))
        info = {k: v for k, v in atoms.info.items() if isinstance(v, str | int | float | bool)}
        if info:
            st.json(info, expanded=False)


def _run_folder_section(run: results.RunFolder, guard: PathGuard, project_dir: Path) -> None:
    import streamlit as st

    if run.empty:
        raise UserInputError(
            f"No database, plot, metrics.csv or summary found under {guard.display(run.folder)}."
        )
    for summary in run.summaries:
        name = summary.relative_to(run.folder)
        with st.expander(f"Summary: {name}", expanded=summary.suffix == ".md"):
            try:  # one unreadable summary must not hide the rest of the folder
                content = results.read_summary(summary)
            except (OSError, ValueError) as exc:
                st.error(f"{name} could not be read: {exc}")
                continue
            if isinstance(content, str):
                st.markdown(results.demote_headings(content))
            else:  # any JSON value: an object, or a list of records
                st.json(content)
    if run.databases:
        names = [str(p.relative_to(run.folder)) for p in run.databases]
        chosen = st.selectbox("Database", names, key=f"db-{run.folder}")
        try:  # one unreadable file (e.g. a label cache) must not hide the rest of the run
            _database_section(run.databases[names.index(chosen)], project_dir)
        except UserInputError as exc:
            st.error(str(exc))
    for metrics in run.metrics:
        _metrics_section(metrics, run.folder)
    if run.plots:
        st.subheader("Plots")
        cols = st.columns(2)
        for i, plot in enumerate(run.plots):
            cols[i % 2].image(str(plot), caption=str(plot.relative_to(run.folder)))


def _metrics_section(path: Path, folder: Path) -> None:
    import streamlit as st

    table = results.read_metrics(path)
    if table.empty:
        return
    st.subheader(f"Metrics: {path.relative_to(folder)}")
    preferred = [c for c in ("train_final_loss", "val_final_loss") if c in table.columns]
    losses = [c for c in table.columns if c.endswith("loss") and c not in preferred]
    default = (preferred + losses)[:4] or list(table.columns[:2])
    chosen = st.multiselect("Curves", list(table.columns), default=default, key=f"m-{path}")
    if chosen:
        st.line_chart(table[chosen])


def render() -> None:
    """The results viewer page."""
    import streamlit as st

    st.title("Results viewer")
    cfg = context.settings()
    guard = cfg.guard
    roots = [cfg.project_dir / "results", cfg.project_dir / "data"]
    if cfg.data_dir is not None:
        roots.append(cfg.data_dir)
    path = _choose_path(guard, roots)
    if path is None:
        st.info("Pick a database or run folder above, or type its path.")
        return
    if path.is_dir():
        _run_folder_section(results.scan_run_folder(path), guard, cfg.project_dir)
    else:
        _database_section(path, cfg.project_dir)
