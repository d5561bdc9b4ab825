"""BERT attention heatmaps: WordPiece labels, no padding, one head / a layer / [CLS]."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_runs import tiny_config, write_vocab

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertModel
from attention_lab.tokenization import BertTokenizer
from attention_lab.viz.attention import (
    AttentionMaps,
    attention_maps,
    cls_attention,
    plot_cls_across_layers,
    plot_head,
    plot_layer,
    save_figure,
)


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path_factory.mktemp("vocab")))
    bert = BertModel(tiny_config())
    bert.build()
    return attention_maps(bert, tokenizer, "The movie was boring", max_len=16)


def test_maps_hold_wordpiece_tokens_without_padding(maps):
    assert maps.tokens == ["[CLS]", "the", "movie", "was", "boring", "[SEP]"]
    assert maps.weights.shape == (2, 2, 6, 6)  # (layers, heads, tokens, tokens): no padding
    np.testing.assert_allclose(maps.weights.sum(axis=-1), 1.0, atol=1e-5)
    with pytest.raises(AttentionLabError, match="layers 0 … 1"):
        maps.check(layer=2)
    with pytest.raises(AttentionLabError, match="heads 0 … 1"):
        maps.check(layer=0, head=5)


def test_cls_attention_is_the_cls_query_row_averaged_over_heads():
    # One layer, two heads; the [CLS] row (query 0) differs from the [CLS] column (key 0).
    weights = np.array([[
        [[0.5, 0.25, 0.25], [0.9, 0.05, 0.05], [0.2, 0.2, 0.6]],
        [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]],
    ]])  # fmt: skip
    maps = AttentionMaps(["[CLS]", "fine", "[SEP]"], weights)
    np.testing.assert_allclose(cls_attention(maps), [[0.3, 0.525, 0.175]])


def test_the_three_views_are_written_as_png(maps, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plot_head(maps, 1, 0, ax=ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == maps.tokens
    paths = [
        save_figure(fig, tmp_path / "head.png"),
        save_figure(plot_layer(maps, 0), tmp_path / "layer.png"),
    ]
    fig, ax = plt.subplots()
    plot_cls_across_layers(maps, ax=ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["layer 0", "layer 1"]
    paths.append(save_figure(fig, tmp_path / "cls.png"))
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cls.png", "head.png", "layer.png"]


def test_confusion_matrix_writes_every_count_and_refuses_a_wrong_shape(tmp_path):
    from attention_lab.viz.confusion import plot_confusion_matrix, save_confusion_matrix

    fig, ax = plot_confusion_matrix([[10663, 1837], [2493, 10007]], ["negative", "positive"])
    assert [t.get_text().split("\n")[0] for t in ax.texts] == ["10,663", "1,837", "2,493", "10,007"]
    assert ax.texts[0].get_text().split("\n")[1] == "42.7%"
    with pytest.raises(AttentionLabError, match="must be 2 x 2, got shape \\(3,\\)"):
        plot_confusion_matrix([1, 2, 3], ["negative", "positive"])
    png = save_confusion_matrix([[3, 1], [0, 4]], ["negative", "positive"], tmp_path / "cm.png")
    assert png.read_bytes().startswith(b"\x89PNG")
