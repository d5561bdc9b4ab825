"""Logits, metrics and predictions of a fine-tuned classifier (chapter sections 5-6).

:func:`predict_logits` runs the model over batches of reviews of similar length, each padded
only to its own longest review (:class:`~attention_lab.training.data.InferenceBatches`), and
puts the logits back in the data's order. :func:`evaluate` adds the chapter's metrics;
:func:`predict_texts` labels new texts, encoded exactly as in training.
"""

from __future__ import annotations

import keras
import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import check_inputs
from attention_lab.runtime import Plan
from attention_lab.training.data import EncodedDataset, InferenceBatches, encode_reviews
from attention_lab.training.metrics import classification_metrics


def predict_logits(
    model,
    data: EncodedDataset,
    batch_size: int = 64,
    plan: Plan | None = None,
    progress: bool = False,
) -> np.ndarray:
    """float32 logits ``(n, num_labels)`` of ``model`` for every example, in ``data``'s order."""
    from tqdm.auto import tqdm

    def forward(features):
        return keras.ops.cast(model(features, training=False), "float32")

    check_inputs(model.config, data.features)  # compiled steps cannot check the ids
    batches = InferenceBatches(data, batch_size)
    # One batch (a few texts to classify) runs faster as it is than traced into a graph first.
    compile_it = plan is not None and batches.num_batches > 1
    # Traced once for batches of every size and length: the batches' lengths vary.
    step = plan.compile(forward, example=batches[0][0]) if compile_it else forward
    out = np.zeros((len(data), int(model.config.num_labels)), dtype=np.float32)
    bar = tqdm(total=len(data), unit="ex", disable=not progress, mininterval=5.0, desc="predict")
    for index in range(batches.num_batches):
        features, _ = batches[index]
        rows = batches.batch_rows(index)
        out[rows] = keras.ops.convert_to_numpy(step(features))
        bar.update(len(rows))
    bar.close()
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def evaluate(model, data: EncodedDataset, batch_size: int = 64, plan=None, progress=False):
    """The chapter's metrics (accuracy, precision, recall, F1, confusion matrix) and the loss."""
    logits = predict_logits(model, data, batch_size, plan, progress)
    probabilities = softmax(logits)
    loss = -np.log(np.maximum(probabilities[np.arange(len(data)), data.labels], 1e-30)).mean()
    metrics = classification_metrics(data.labels, logits.argmax(axis=1))
    metrics["loss"] = float(loss)
    return metrics, logits


def predict_texts(model, tokenizer, texts, run: dict, label_names, plan=None) -> list[dict]:
    """Logits, probabilities and label of each text, encoded as the run was trained."""
    if isinstance(texts, (str, bytes)):  # its characters would be classified one by one
        raise AttentionLabError("texts must be a list of texts; pass [text] for one text")
    texts = list(texts)
    if not texts:
        raise AttentionLabError("texts is empty; pass at least one text to classify")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise AttentionLabError(f"text {i + 1} is a {type(text).__name__}, not a str")
        if not text.strip():
            raise AttentionLabError(
                f"text {i + 1} is empty or blank; a classifier would still give it a label. "
                "Pass the review's text"
            )
    settings = run["settings"]
    data = encode_reviews(tokenizer, texts, None, settings["max_len"], settings["truncation"])
    logits = predict_logits(model, data, batch_size=min(len(texts), 32), plan=plan)
    records = []
    for text, row, probs in zip(texts, logits, softmax(logits), strict=True):
        label = int(row.argmax())
        records.append(
            {
                "text": text,
                "logits": [float(v) for v in row],
                "probabilities": [float(v) for v in probs],
                "label": label_names[label],
                "label_id": label,
            }
        )
    return records
