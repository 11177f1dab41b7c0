"""Run a page so that a bad input becomes a message on the page, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from foundation_model.ui.paths import UnsafePathError

LOG = logging.getLogger("foundation_model.ui")


class UserInputError(ValueError):
    """An input on a page cannot be used; the message says why and what to do."""


def error_message(exc: BaseException) -> str:
    """One readable line for ``exc``: the message of expected errors, the type otherwise."""
    if isinstance(exc, UserInputError | UnsafePathError):
        return str(exc)
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {first}" if first else name


def guarded(body: Callable[[], None]) -> Callable[[], None]:
    """Wrap a page body: exceptions are logged on the server and shown as ``st.error``.

    Streamlit's own control-flow signals (rerun, stop) derive from ``BaseException`` and
    pass through untouched.
    """

    @wraps(body)
    def page() -> None:
        import streamlit as st

        try:
            body()
        except (UserInputError, UnsafePathError) as exc:
            LOG.info("page %s: %s", body.__name__, exc)
            st.error(error_message(exc))
        except Exception as exc:  # noqa: BLE001 - the point is to catch everything
            LOG.warning("page %s failed", body.__name__, exc_info=True)
            st.error(error_message(exc))

    return page
