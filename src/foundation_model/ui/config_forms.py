"""Helpers of the workflow forms (plain Python, no Streamlit).

Parsing of form fields (elements, numbers, fractions, formulas), ``class_path`` mappings,
dotted access to nested configs, and :func:`check_with_cli_parser`, which asks a workflow
CLI's own parser whether it accepts a config. The configs themselves are built in
:mod:`~foundation_model.ui.datagen_config` and :mod:`~foundation_model.ui.distill_config`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ase.data import atomic_numbers

from foundation_model.ui.safety import UserInputError


def parse_elements(text: str) -> list[str]:
    """Chemical symbols from ``"Cu, Al"`` / ``"Cu Al"``; unknown symbols are refused."""
    symbols = [s for s in re.split(r"[\s,;]+", text.strip()) if s]
    if not symbols:
        raise UserInputError("Give at least one element, e.g. Cu, Al.")
    bad = [s for s in symbols if s not in atomic_numbers or s == "X"]
    if bad:
        cased = [s.capitalize() for s in bad if s.capitalize() in atomic_numbers]
        hint = f" (symbols are case-sensitive: {', '.join(cased)}?)" if cased else ""
        raise UserInputError(f"Unknown element(s): {', '.join(bad)}{hint}.")
    if len(set(symbols)) != len(symbols):
        raise UserInputError("Each element once, please.")
    return symbols


def parse_numbers(text: str, what: str, positive: bool = True) -> list[float]:
    """Numbers from ``"300, 600"``; refuses non-numbers (and non-positive when asked)."""
    values = []
    for item in (s for s in re.split(r"[\s,;]+", text.strip()) if s):
        try:
            values.append(float(item))
        except ValueError as exc:
            raise UserInputError(f"{what}: {item!r} is not a number.") from exc
    if not values:
        raise UserInputError(f"{what}: give at least one number.")
    if positive and min(values) <= 0:
        raise UserInputError(f"{what}: every value must be > 0.")
    return values


def class_path(path: str, **init_args) -> dict:
    """A ``class_path`` / ``init_args`` mapping (``None`` arguments left out)."""
    return {"class_path": path, "init_args": {k: v for k, v in init_args.items() if v is not None}}


def parse_fractions(text: str, what: str) -> dict[str, float]:
    """``{symbol: fraction}`` from ``"Mg:0.5, Ca:0.5"`` (a lone symbol means fraction 1)."""
    out: dict[str, float] = {}
    for item in (t for t in re.split(r"[\s,;]+", text.strip()) if t):
        symbol, _, fraction = item.partition(":")
        parse_elements(symbol)
        try:
            out[symbol] = float(fraction) if fraction else 1.0
        except ValueError as exc:
            raise UserInputError(f"{what}: {fraction!r} is not a fraction.") from exc
    if not out:
        raise UserInputError(f"{what}: give at least one element, e.g. Mg:1.")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise UserInputError(f"{what}: fractions sum to {sum(out.values()):g}, not 1.")
    return out


def formula_elements(formula: str) -> list[str]:
    """Elements of a formula such as ``TiO2`` (refused when it does not parse)."""
    from ase.formula import Formula

    try:
        counts = Formula(formula.strip()).count()
    except ValueError as exc:
        raise UserInputError(f"{formula!r} is not a chemical formula: {exc}") from exc
    if not counts:
        raise UserInputError("Give a formula, e.g. TiO2.")
    return parse_elements(" ".join(counts))


def get_in(config: dict, dotted: str):
    """``config["a"]["b"]`` for ``"a.b"``; a :class:`UserInputError` names a missing key."""
    node = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UserInputError(f"The template config has no {dotted!r}.")
        node = node[key]
    return node


def set_in(config: dict, dotted: str, value) -> None:
    """Set an existing key given as ``"a.b.c"`` (refuses keys the template lacks)."""
    parent, _, last = dotted.rpartition(".")
    try:
        node = get_in(config, parent) if parent else config
    except UserInputError:
        node = None
    if not isinstance(node, dict) or last not in node:
        raise UserInputError(f"The template config has no {dotted!r}.")
    node[last] = value


def check_with_cli_parser(
    build_parser: Callable[[], Any],
    config: dict,
    instantiate: bool = True,
    pipeline: Callable[..., Any] | None = None,
) -> None:
    """Check ``config`` with a workflow CLI's own jsonargparse parser.

    Args:
        build_parser: the CLI's parser factory (e.g. ``foundation_model.cli.datagen.build_parser``).
        config: the config mapping.
        instantiate: also build the stage objects (runs their constructors' validation).
        pipeline: the workflow's pipeline class; when given, it is built from the stages as
            the CLI builds it, so its constructor's cross-stage checks run too (the
            calculator knows every element, the budget covers the first labels). Building
            it writes nothing; the run itself starts only at launch.

    Raises:
        UserInputError: with the parser's message when the CLI would refuse the config.
    """
    import yaml

    parser = build_parser()
    try:
        namespace = parser.parse_string(yaml.safe_dump(config, sort_keys=False))
        if instantiate or pipeline is not None:
            init = parser.instantiate_classes(namespace)
            if pipeline is not None:
                skip = ("config", "resume", "__path__")
                pipeline(**{k: v for k, v in vars(init).items() if k not in skip})
    except Exception as exc:  # jsonargparse's ArgumentError, or any constructor's error
        raise UserInputError(f"The CLI refuses this config: {_last_line(exc)}") from exc


def _last_line(exc: BaseException) -> str:
    while exc.__cause__ is not None and isinstance(exc.__cause__, ValueError | TypeError):
        exc = exc.__cause__
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
