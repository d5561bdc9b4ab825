"""attention_lab: the Transformer of "Transfer Learning with BERT", written from scratch in Keras 3.

The folder layout is the architecture:

- ``layers/``        attention, the BERT encoder block, embeddings, pooler, Bahdanau attention
- ``models/``        BERT, the classifiers, the GloVe BiLSTM, the seq2seq encoder-decoder
- ``convert/``       Hugging Face checkpoint -> our layers
- ``parity/``        layer-by-layer comparison with the Hugging Face reference
- ``tokenization/``  WordPiece and BERT input encoding
- ``data/``          IMDb and GloVe
- ``training/``      fine-tuning loops and schedules
- ``viz/``           attention heatmaps
- ``cli/``           the ``attention-lab`` command
"""

import os

# Keras 3 picks its backend at import time; this project is written for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from attention_lab.config import BertConfig  # noqa: E402
from attention_lab.errors import AttentionLabError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["AttentionLabError", "BertConfig", "__version__"]
