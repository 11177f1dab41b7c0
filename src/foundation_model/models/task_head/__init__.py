"""Task specs and their heads: regression, classification and sequence (RNN/Transformer/TCN/
Legendre basis)."""

from foundation_model.models.task_head.base import TaskHead, TaskSpec
from foundation_model.models.task_head.classification import ClassificationHead, ClassificationTask
from foundation_model.models.task_head.regression import RegressionHead, RegressionTask
from foundation_model.models.task_head.sequence_base import SequenceHead, SequenceTask
from foundation_model.models.task_head.sequence_basis import SequenceBasisHead, SequenceBasisTask
from foundation_model.models.task_head.sequence_rnn import SequenceRNNHead, SequenceRNNTask
from foundation_model.models.task_head.sequence_tcn_film import (
    SequenceTCNFiLMHead,
    SequenceTCNFiLMTask,
)
from foundation_model.models.task_head.sequence_transformer import (
    SequenceTransformerHead,
    SequenceTransformerTask,
)

__all__ = [
    "ClassificationHead",
    "ClassificationTask",
    "RegressionHead",
    "RegressionTask",
    "SequenceBasisHead",
    "SequenceBasisTask",
    "SequenceHead",
    "SequenceRNNHead",
    "SequenceRNNTask",
    "SequenceTCNFiLMHead",
    "SequenceTCNFiLMTask",
    "SequenceTask",
    "SequenceTransformerHead",
    "SequenceTransformerTask",
    "TaskHead",
    "TaskSpec",
]
