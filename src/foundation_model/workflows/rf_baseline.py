"""The RF-SCM/Magpie Matbench baseline: a scikit-learn random forest on Magpie descriptors.

Matbench's ``RF-SCM/Magpie`` entry is a random forest on Magpie composition features
(plus sine-Coulomb-matrix features for structure tasks, which composition tasks lack).

Hard labels come from positive-class probabilities and a threshold. Matbench scores
classification by ROC-AUC on what a submission records, hard labels (as its RF baseline
did) or probabilities; this benchmark's primary score is the label-based one, which is the
balanced accuracy ``(TPR + TNR) / 2``. For calibrated probabilities the labels that
maximise its expectation are ``p >= pi``, ``pi`` the positive rate of the training labels
(:func:`positive_rate`), not ``p >= 0.5`` (the rule that maximises plain accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FoldPrediction:
    """Test-set predictions of one fold.

    Attributes:
        values: regression predictions, or hard class labels for classification.
        proba: positive-class probabilities (classification only).
        threshold: the probability at or above which the label is 1 (classification only;
            kept so a seed ensemble labels its mean probabilities by the same rule).
        std: predicted standard deviations (regression models with uncertainty).
        val_score: the model's best inner-validation score (its checkpoint monitor), when
            the model was selected on one.
        spread: the uncalibrated spread behind ``std`` (``std = sqrt((a spread)^2 + b^2)``
            with ``(a, b)`` fitted on the validation rows), for studies of recalibration.
        val: the validation rows of the selected model (``y``, ``values``, ``spread``, and
            the keys of ``signals`` when it is set): the rows its σ map was fitted on.
        signals: per-row uncertainty signals of the test rows for studies of σ: the two
            parts of ``spread`` of a model with an ensemble and a noise head
            (``spread_ensemble``, ``spread_noise``; ``spread^2`` is their sum of squares) and
            ``latent_distance`` (mean distance to the 5 nearest training rows in the model's
            shared representation).
        epochs: training epochs the network ran (early stopping included), for cost
            studies; None for models without epochs and for ensembles.
    """

    values: np.ndarray
    proba: np.ndarray | None = None
    std: np.ndarray | None = None
    val_score: float | None = None
    spread: np.ndarray | None = None
    val: dict[str, np.ndarray] | None = None
    signals: dict[str, np.ndarray] | None = None
    threshold: float = 0.5
    epochs: int | None = None

    @classmethod
    def from_proba(
        cls, proba: np.ndarray, threshold: float = 0.5, val_score: float | None = None
    ) -> FoldPrediction:
        """Labels ``proba >= threshold`` beside the probabilities.

        Args:
            proba: positive-class probabilities.
            threshold: decision threshold (:func:`positive_rate` of the training labels for
                the balanced rule, 0.5 for the most probable class).
            val_score: the model's best inner-validation score, when it has one.
        """
        proba = np.asarray(proba, dtype=np.float64)
        return cls(
            (proba >= threshold).astype(int), proba, val_score=val_score, threshold=threshold
        )

    @classmethod
    def mean_of(cls, members: list[FoldPrediction]) -> FoldPrediction:
        """The seed ensemble of ``members`` (same test rows): mean values, or mean
        probabilities labelled with the members' threshold; σ of the equal-weight mixture
        when every member has one (mean variance + variance of the means); the mean
        validation score. The members' ``spread``, ``signals`` and ``val`` (each fitted on
        its own validation rows) are dropped.

        Args:
            members: predictions of independently trained models, one or more.
        """
        if not members:
            raise ValueError("mean_of needs at least one member prediction.")
        if len(members) == 1:
            return members[0]
        scores = [m.val_score for m in members if m.val_score is not None]
        val_score = float(np.mean(scores)) if scores else None
        if all(m.proba is not None for m in members):
            if len({m.threshold for m in members}) > 1:
                raise ValueError("mean_of: the members were labelled with different thresholds.")
            proba = np.mean([m.proba for m in members], axis=0)
            return cls.from_proba(proba, members[0].threshold, val_score)
        values = np.stack([np.asarray(m.values, dtype=np.float64) for m in members])
        std = None
        if all(m.std is not None for m in members):
            var = np.mean([np.asarray(m.std, dtype=np.float64) ** 2 for m in members], axis=0)
            std = np.sqrt(var + values.var(axis=0))
        return cls(values.mean(axis=0), std=std, val_score=val_score)


def rf_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    task_type: str,
    n_estimators: int = 500,
    seed: int = 0,
    n_jobs: int = -1,
    balanced: bool = False,
) -> FoldPrediction:
    """Fit a random forest on one fold's training rows and predict its test rows.

    Args:
        x_train: ``(N, D)`` Magpie descriptors (NaN-free).
        y_train: ``(N,)`` targets (integer labels for classification).
        x_test: ``(M, D)`` descriptors.
        task_type: ``regression`` or ``classification``.
        n_estimators: trees.
        seed: random state.
        n_jobs: parallel jobs for scikit-learn.
        balanced: label classification rows ``p >= positive_rate(y_train)`` (the rule for
            balanced accuracy) instead of ``p >= 0.5`` (scikit-learn's ``predict``, which
            Matbench's RF-SCM/Magpie entry used).
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if task_type == "regression":
        rf = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
        rf.fit(x_train, y_train)
        return FoldPrediction(rf.predict(x_test))
    rf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
    rf.fit(x_train, y_train.astype(int))
    proba = (
        rf.predict_proba(x_test)[:, list(rf.classes_).index(1)]
        if 1 in rf.classes_
        else np.zeros(len(x_test))
    )
    return FoldPrediction.from_proba(proba, positive_rate(y_train) if balanced else 0.5)


def positive_rate(y_train: np.ndarray) -> float:
    """Share of label 1 among the training labels: the balanced decision threshold.

    Args:
        y_train: training labels (0/1 or booleans).
    """
    y = np.asarray(y_train).astype(int)
    if y.size == 0:
        raise ValueError("positive_rate needs at least one training label.")
    return float(np.mean(y == 1))


def dummy_fold(y_train: np.ndarray, n_test: int, task_type: str) -> FoldPrediction:
    """Matbench's Dummy: train mean (regression) or most frequent class (classification).

    Args:
        y_train: training targets.
        n_test: number of test rows.
        task_type: ``regression`` or ``classification``.
    """
    if task_type == "regression":
        return FoldPrediction(np.full(n_test, float(np.mean(y_train))))
    labels, counts = np.unique(y_train.astype(int), return_counts=True)
    top = int(labels[np.argmax(counts)])
    return FoldPrediction(np.full(n_test, top), np.full(n_test, float(np.mean(y_train == 1))))
