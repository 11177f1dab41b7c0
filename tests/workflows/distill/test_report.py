"""The report: an extrapolation grade that does not exist is never written as zero."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation_model.utils.atomic import json_safe
from foundation_model.workflows.distill.ace_basis import ACEBasisSpec
from foundation_model.workflows.distill.evaluation import Evaluation
from foundation_model.workflows.distill.report import _largest_gamma
from foundation_model.workflows.distill.student import ACEStudentTrainer, student_calculator

pytest.importorskip("pyace")


def test_no_active_set_means_nan_gamma_null_in_json_and_n_a(emt_train, tmp_path) -> None:
    spec = ACEBasisSpec(cutoff=4.0, nradmax_by_orders=[4, 2], lmax_by_orders=[0, 1])
    ACEStudentTrainer(spec).fit(emt_train[:10]).save(tmp_path)  # no student.asi
    calc = student_calculator(tmp_path, active_set=True)
    md = Evaluation(md_steps=4).student_md(calc, emt_train[0].copy(), seed=0)
    assert md["max_gamma"] and np.all(np.isnan(md["max_gamma"]))
    assert _largest_gamma(md["max_gamma"]) == "n/a"
    text = json.dumps(json_safe(md), allow_nan=False)
    assert json.loads(text)["max_gamma"] == [None] * len(md["max_gamma"])
    assert _largest_gamma([0.4, float("nan"), 1.25]) == "1.25"
