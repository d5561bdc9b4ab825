"""Hugging Face checkpoints made by ``transformers`` itself, for converter and parity tests."""

from __future__ import annotations

import shutil
from pathlib import Path

TINY_HF = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=40,
)


def save_hf_checkpoint(
    directory: Path,
    head: bool | str = False,
    vocab_dir: Path | None = None,
    seed: int = 0,
    safe_serialization: bool = True,
    **config,
) -> Path:
    """``transformers`` creates a randomly initialised BERT and ``save_pretrained``s it.

    ``head=True`` saves a ``BertForSequenceClassification``, a class name (``"BertForPreTraining"``,
    ``"BertForMaskedLM"``) that class; ``vocab_dir`` copies a real
    ``vocab.txt`` and tokenizer config beside the weights.
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    hf_config = transformers.BertConfig(**{**TINY_HF, **config})
    if isinstance(head, str):
        cls = getattr(transformers, head)
    else:
        cls = transformers.BertForSequenceClassification if head else transformers.BertModel
    model = cls(hf_config).eval()
    if safe_serialization:
        model.save_pretrained(directory)
    else:  # the legacy pytorch_model.bin layout
        directory.mkdir(parents=True, exist_ok=True)
        hf_config.save_pretrained(directory)
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
    if vocab_dir is not None:
        for name in ("vocab.txt", "tokenizer_config.json"):
            if (vocab_dir / name).is_file():
                shutil.copy(vocab_dir / name, directory / name)
    return directory
