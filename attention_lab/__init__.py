"""attention_lab: the Transformer of "Transfer Learning with BERT", written from scratch in Keras 3.

The folder layout is the architecture:

- ``models/``        BERT and its classifiers in one file (``bert.py``, in the chapter's order;
                     ``bert_fused.py`` the faster block), the GloVe BiLSTM, the seq2seq model
- ``layers/``        Bahdanau attention
- ``convert/``       Hugging Face folders <-> our models (load_bert, save_bert, the weight map)
- ``parity/``        layer-by-layer comparison with the Hugging Face reference and float64
- ``tokenization/``  WordPiece and BERT input encoding
- ``data/``          IMDb, GloVe, the chapter's preprocessing, the seq2seq characters
- ``training/``      fine-tuning BERT on model.fit, the run folder; BiLSTM and seq2seq training
- ``interpret/``     attention rollout, gradient attributions, the attention viewer
- ``viz/``           heatmaps, alignments, confusion matrices
- ``runtime.py``     the precision and compile plan; ``backend.py`` what differs per backend
- ``io.py``          writing files so that nothing is lost
- ``cli/``           the ``attention-lab`` command
"""

import os

# Keras 3 picks its backend at import time: TensorFlow unless KERAS_BACKEND says otherwise (the
# BERT model runs on JAX and PyTorch too).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from attention_lab.errors import AttentionLabError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["AttentionLabError", "__version__"]
