"""attention_lab: the Transformer of "Transfer Learning with BERT", written from scratch in Keras 3.

The folder layout is the architecture:

- ``layers/``        attention, the BERT encoder block, embeddings, pooler, Bahdanau attention
- ``models/``        BERT, the classifiers, the GloVe BiLSTM, the seq2seq encoder-decoder
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

# Keras 3 picks its backend at import time; this project is written for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from attention_lab.config import BertConfig  # noqa: E402
from attention_lab.errors import AttentionLabError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["AttentionLabError", "BertConfig", "__version__"]
