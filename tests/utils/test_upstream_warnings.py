import warnings

import pytest

from foundation_model.utils.upstream_warnings import UPSTREAM_NOISE, hide_upstream_noise


def test_hides_the_listed_warnings_and_nothing_else():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        hide_upstream_noise()
        warnings.warn(
            "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec) "
            "and treespec.is_leaf()` instead.",
            FutureWarning,
            stacklevel=1,
        )
        warnings.warn(
            "You have overridden `transfer_batch_to_device` in `LightningModule`", stacklevel=1
        )
        warnings.warn("a warning the user must see", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["a warning the user must see"]


@pytest.mark.parametrize("pattern", UPSTREAM_NOISE)
def test_each_pattern_is_a_valid_regex_with_a_leading_wildcard(pattern):
    import re

    re.compile(pattern)
    assert pattern.startswith(".*")  # warnings match the message from its start


def test_the_cloud_logging_tip_is_dropped_and_other_lines_kept(caplog):
    import logging

    from foundation_model.utils.upstream_warnings import TIPS_LOGGER

    hide_upstream_noise()
    hide_upstream_noise()  # once per process: no second filter
    log = logging.getLogger(TIPS_LOGGER)
    assert len(log.filters) == len(set(map(type, log.filters)))
    with caplog.at_level(logging.INFO, logger=TIPS_LOGGER):
        log.info("💡 Tip: For seamless cloud logging and experiment tracking, try litlogger")
        log.info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
