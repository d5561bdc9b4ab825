"""Binary classification metrics as the chapter reports them: accuracy, precision, recall, F1.

Positive class = label 1 ("positive" review). The confusion matrix has the true labels as
rows and the predictions as columns.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_labels: int = 2):
    """``(num_labels, num_labels)`` counts: row = true label, column = predicted label."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def classification_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Accuracy, precision, recall and F1 of the positive class, and the confusion matrix."""
    matrix = confusion_matrix(labels, predictions)
    (tn, fp), (fn, tp) = matrix
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "examples": int(matrix.sum()),
        "accuracy": float((tp + tn) / matrix.sum()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": matrix.tolist(),
    }
