"""The offline pretraining corpus: ``fm data corpus --out DIR``.

One module per source (:mod:`.crabnet_tables` for the OQMD / AFLOW / Materials Project
tables of the crabnet wheel, :mod:`.transport` for matminer's transport table,
:mod:`.janaf` for the JANAF heat-capacity and entropy curves), :mod:`.leakage` for the
Matbench exclusion rule and :mod:`.build` that assembles, checks and writes the corpus.
"""

from __future__ import annotations

__all__ = ["build_corpus"]


def build_corpus(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """Lazy alias of :func:`foundation_model.data.corpus.build.build_corpus`."""
    from foundation_model.data.corpus.build import build_corpus as _build

    return _build(*args, **kwargs)
