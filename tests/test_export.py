"""Export back to Hugging Face: transformers loads the folder and gives the same logits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_runs import tiny_config, toy_sentiment, write_vocab

from attention_lab.convert.export import export_classifier
from attention_lab.errors import AttentionLabError
from attention_lab.models.classifier import build_classifier
from attention_lab.tokenization import BertTokenizer

pytest.importorskip("torch")


def test_exported_folder_loads_in_transformers_with_the_same_logits(tmp_path):
    import torch
    import transformers

    config = tiny_config(hidden_act="gelu_tanh")
    model = build_classifier("prebuilt", config)
    model.classifier.bias.assign([0.3, -0.2])
    vocab_dir = write_vocab(tmp_path / "vocab")
    out = export_classifier(model, config, vocab_dir, tmp_path / "hf", ["negative", "positive"])
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert json.loads((out / "config.json").read_text())["id2label"] == {
        "0": "negative",
        "1": "positive",
    }

    reference = transformers.BertForSequenceClassification.from_pretrained(out).eval()
    data = toy_sentiment(5)
    ours = np.asarray(model(data.features))
    with torch.no_grad():
        theirs = reference(
            **{k: torch.tensor(v, dtype=torch.long) for k, v in data.features.items()}
        ).logits.numpy()
    assert np.abs(ours - theirs).max() <= 1e-4

    text = "this movie was really wonderful not boring"
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    ids = BertTokenizer.from_pretrained(out).encode_batch([text], max_length=16)["input_ids"]
    assert hf_tokenizer(text)["input_ids"] == ids[0][ids[0] > 0].tolist()

    with pytest.raises(AttentionLabError, match="already exists"):
        export_classifier(model, config, vocab_dir, out, ["negative", "positive"])


def test_the_custom_head_cannot_be_exported_as_bert_for_sequence_classification(tmp_path):
    model = build_classifier("custom", tiny_config())
    with pytest.raises(AttentionLabError, match="only the pre-built head"):
        export_classifier(model, model.config, write_vocab(tmp_path), tmp_path / "hf", ["n", "p"])
    assert not (tmp_path / "hf").exists()
