"""Fine-tuning BERT classifiers: data, schedule, checkpoints, the training loop, the run folder."""

from attention_lab.training.data import EncodedDataset, encode_texts, train_validation_split
from attention_lab.training.schedule import WarmupLinearDecay
from attention_lab.training.trainer import (
    Trainer,
    TrainingConfig,
    default_strategy,
    loss_and_accuracy,
    make_optimizer,
    predict_logits,
)

__all__ = [
    "EncodedDataset",
    "Trainer",
    "TrainingConfig",
    "WarmupLinearDecay",
    "default_strategy",
    "encode_texts",
    "loss_and_accuracy",
    "make_optimizer",
    "predict_logits",
    "train_validation_split",
]
