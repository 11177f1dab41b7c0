from __future__ import annotations

import numpy as np
import pytest
import torch

from foundation_model.models.task_head import (
    ClassificationTask,
    RegressionTask,
    SequenceBasisTask,
    SequenceRNNTask,
    SequenceTCNFiLMTask,
    SequenceTransformerTask,
    TaskSpec,
)

SEQ_TASKS = [
    SequenceRNNTask("s", "x", "y", cell="lstm", hidden_size=8, num_layers=1),
    SequenceRNNTask("s", "x", "y", cell="gru", hidden_size=8, bidirectional=True),
    SequenceTransformerTask("s", "x", "y", d_model=8, nhead=2, num_layers=1, dim_feedforward=16),
    SequenceTCNFiLMTask("s", "x", "y", channels=8, dilations=[1, 2]),
    SequenceBasisTask("s", "x", "y", degree=3, hidden_dims=[8]),
]


def test_scalar_heads_shapes():
    h = torch.randn(5, 16)
    assert RegressionTask("r").build_head(16)(h).shape == (5,)
    assert ClassificationTask("c", num_classes=3).build_head(16)(h).shape == (5, 3)


@pytest.mark.parametrize("spec", SEQ_TASKS, ids=lambda s: type(s).__name__)
def test_sequence_heads_shapes_padding_and_grad(spec):
    head = spec.build_head(16).eval()
    h = torch.randn(3, 16, requires_grad=True)
    x = torch.rand(3, 6, 1)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False
    out = head(h, x, mask)
    assert out.shape == (3, 6)
    # predictions at real points do not depend on what sits in the padding
    x2 = x.clone()
    x2[1, 4:] = 99.0
    out2 = head(h, x2, mask)
    assert torch.allclose(out[1, :4], out2[1, :4], atol=1e-5)
    head.loss(out, torch.zeros(3, 6), mask).backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_spec_round_trip_and_errors():
    spec = ClassificationTask("c", class_names=["a", "b", "c"], hidden_dims=[8])
    again = TaskSpec.from_dict(spec.to_dict())
    assert again == spec and again.num_classes == 3
    with pytest.raises(ValueError, match="num_classes is unknown"):
        ClassificationTask("c").build_head(4)
    with pytest.raises(ValueError, match="Unknown loss"):
        RegressionTask("r", loss="abs")
    with pytest.raises(ValueError, match="Unknown TaskSpec class"):
        TaskSpec.from_dict({"class_path": "foundation_model.models.task_head.NopeTask"})


def test_balanced_decision_divides_by_the_training_class_shares():
    import numpy as np
    import pandas as pd

    spec = ClassificationTask("c", decision="balanced")
    spec.prepare(pd.DataFrame({"c": [1] * 75 + [0] * 25}), 100, np.arange(100))
    assert spec.class_prior == pytest.approx([26 / 102, 76 / 102])  # add-one smoothed
    proba = torch.tensor([[0.3, 0.7], [0.2, 0.8]])
    assert spec.labels(proba).tolist() == [0, 1]  # 0.7 is below class 1's share
    assert ClassificationTask("c").labels(proba).tolist() == [1, 1]  # argmax
    again = TaskSpec.from_dict(spec.to_dict())
    assert again.class_prior == spec.class_prior and again.decision == "balanced"
    again.prepare(pd.DataFrame({"c": [0] * 90 + [1] * 10}), 100, np.arange(100))
    assert again.class_prior == spec.class_prior  # a saved or given prior is kept


def test_integer_labels_that_are_not_0_to_c_minus_1_are_class_names():
    """Labels 1..4 are four classes named '1'..'4', not five indices with an empty class
    0 that decision 'balanced' would then prefer."""
    import numpy as np
    import pandas as pd

    labels = pd.DataFrame({"c": [1] * 10 + [2] * 6 + [3] * 3 + [4] * 1 + [None] * 2})
    spec = ClassificationTask("c", decision="balanced")
    data = spec.prepare(labels, 22, np.arange(20))
    assert spec.class_names == ["1", "2", "3", "4"] and spec.num_classes == 4
    assert data.targets[:20].tolist() == [0] * 10 + [1] * 6 + [2] * 3 + [3]
    tens = ClassificationTask("t")
    tens.prepare(pd.DataFrame({"t": [2, 10, 2, 10]}), 4, np.arange(4))
    assert tens.class_names == ["2", "10"]  # numbers in numeric order
    indices = ClassificationTask("i")  # 0..C-1 stay indices
    indices.prepare(pd.DataFrame({"i": [0, 1, 2, 1]}), 4, np.arange(4))
    assert indices.class_names is None and indices.num_classes == 3


def test_a_column_of_measured_numbers_is_not_taken_for_class_labels():
    import numpy as np
    import pandas as pd

    gaps = pd.DataFrame({"gap": np.round(np.linspace(0.0, 4.0, 40) + 0.013, 3)})
    with pytest.raises(ValueError, match=r"holds 40 distinct non-integer numbers.*RegressionTask"):
        ClassificationTask("g", column="gap").prepare(gaps, 40, np.arange(40))
    one_text = gaps.astype(object)
    one_text.loc[5, "gap"] = "<0.1"  # one cell that is not a number does not hide the rest
    with pytest.raises(
        ValueError,
        match=r"holds 39 distinct non-integer numbers in the training rows \(e\.g\. 0\.013\)",
    ):
        ClassificationTask("g", column="gap").prepare(one_text, 40, np.arange(40))
    classes = pd.DataFrame({"c": [float(i % 21) for i in range(40)] + [2.5]})
    ClassificationTask("c").prepare(classes, 41, np.arange(41))  # one stray fraction: classes
    named = ClassificationTask("g", column="gap", class_names=[str(v) for v in gaps["gap"]])
    named.prepare(gaps.astype(str), 40, np.arange(40))  # asked for: allowed
    halves = ClassificationTask("h")  # a few fractional values may be class names
    halves.prepare(pd.DataFrame({"h": [0.5, 1.5, 0.5, 2.5]}), 4, np.arange(4))
    assert halves.class_names == ["0.5", "1.5", "2.5"]
    with pytest.warns(UserWarning, match=r"such as 3.5 never occur"):  # not np.float64(3.5)
        halves.prepare(pd.DataFrame({"h": [0.5, 1.5, 0.5, 2.5, 3.5]}), 5, np.arange(4))


def test_a_class_without_training_rows_is_never_the_balanced_label():
    import numpy as np
    import pandas as pd

    spec = ClassificationTask("c", num_classes=3, decision="balanced")  # indices given
    with pytest.warns(UserWarning, match=r"class\(es\) \['0'\] have no training row"):
        spec.prepare(pd.DataFrame({"c": [1] * 90 + [2] * 10}), 100, np.arange(100))
    assert spec.class_prior[0] == 0.0
    proba = torch.tensor([[0.02, 0.18, 0.80], [0.01, 0.98, 0.01]])
    assert spec.labels(proba).tolist() == [2, 1]  # class 0 never, however small its share
    again = TaskSpec.from_dict(spec.to_dict())  # the saved prior reloads
    assert again.class_prior == spec.class_prior


def test_text_labels_and_a_num_classes_that_does_not_fit_them():
    import numpy as np
    import pandas as pd

    spec = ClassificationTask("p", num_classes=3)
    with pytest.raises(ValueError, match=r"num_classes is 3 but the training labels hold 4"):
        spec.prepare(pd.DataFrame({"p": ["a", "b", "c", "d"]}), 4, np.arange(4))


def test_decision_and_prior_errors_name_the_fix():
    with pytest.raises(ValueError, match="decision must be one of"):
        ClassificationTask("c", decision="vote")
    with pytest.raises(ValueError, match="shares >= 0, not all 0"):
        ClassificationTask("c", class_prior=[0.5, -0.1])
    with pytest.raises(ValueError, match="shares >= 0, not all 0"):
        ClassificationTask("c", class_prior=[0.0, 0.0])
    with pytest.raises(ValueError, match="3 entries for 2 classes"):
        ClassificationTask("c", num_classes=2, class_prior=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="needs class_prior"):
        ClassificationTask("c", num_classes=2, decision="balanced").labels(torch.rand(2, 2))


def test_legendre_basis_matches_the_closed_forms_and_spans_cubics():
    from foundation_model.models.task_head.sequence_basis import legendre

    u = torch.linspace(-1, 1, 7, dtype=torch.float64)
    p = legendre(u, 3)
    assert p.shape == (7, 4)
    torch.testing.assert_close(p[:, 2], (3 * u**2 - 1) / 2)
    torch.testing.assert_close(p[:, 3], (5 * u**3 - 3 * u) / 2)
    assert legendre(u, 0).shape == (7, 1)
    # any cubic in u is a combination of P_0..P_3 (least squares is exact)
    cubic = 0.3 - 1.2 * u + 0.7 * u**3
    coef = torch.linalg.lstsq(p, cubic.unsqueeze(1)).solution
    torch.testing.assert_close(p @ coef, cubic.unsqueeze(1))


def test_basis_head_fits_a_family_of_smooth_curves():
    """Curves y = a + b tanh(x) with (a, b) from the input: the basis head learns them."""
    torch.manual_seed(0)
    spec = SequenceBasisTask("s", "x", "y", degree=4, hidden_dims=[32])
    head = spec.build_head(2)
    ab = torch.randn(64, 2)
    x = torch.linspace(-2, 2, 12).expand(64, 12).unsqueeze(-1)
    y = ab[:, :1] + ab[:, 1:] * torch.tanh(x[..., 0])
    mask = torch.ones(64, 12, dtype=torch.bool)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(400):
        opt.zero_grad()
        loss = head.loss(head(ab, x, mask), y, mask)
        loss.backward()
        opt.step()
    assert float(loss) < 0.01 * float(y.var())
    with pytest.raises(ValueError, match="degree"):
        SequenceBasisTask("s", "x", "y", degree=-1)
    again = TaskSpec.from_dict(spec.to_dict())
    assert again == spec and again.degree == 4


def test_classification_task_error_breaks_ties_by_log_loss_only():
    from foundation_model.models.task_head.classification import ClassificationTask

    task = ClassificationTask(name="c", column="c", num_classes=2)
    target = np.array([0, 0, 1, 1])
    mask = np.ones(4, dtype=bool)

    def err(p1):
        proba = np.stack([1 - np.asarray(p1), np.asarray(p1)], axis=1)
        return task.task_error({"pred": proba, "target": target, "mask": mask}, 1.0)

    sure = err([0.01, 0.01, 0.99, 0.99])  # all right, confident
    unsure = err([0.49, 0.49, 0.51, 0.51])  # all right, barely: the epoch-0 network
    assert 0 < sure < unsure < 0.25  # same error rate 0: the better calibrated one is lower
    # one wrong row always ranks below all right, however bad the log loss of the latter
    one_wrong = err([0.6, 0.0, 1.0, 1.0])
    all_right_awful = err([0.5 - 1e-9, 0.5 - 1e-9, 0.5 + 1e-9, 0.5 + 1e-9])
    assert all_right_awful < 0.25 <= one_wrong
    assert err([1e-15, 1e-15, 1.0, 0.0]) < 0.5  # clipped log loss keeps the step of 1/4
