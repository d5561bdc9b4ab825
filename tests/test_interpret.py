"""Attention rollout, gradient attributions, words and offsets, the HTML writers and the
``attention`` command's methods."""

from __future__ import annotations

import numpy as np
import pytest
from cli_faults import assert_refused, run_cli
from tiny_runs import tiny_config, write_tiny_checkpoint, write_vocab

from attention_lab.errors import AttentionLabError
from attention_lab.interpret import attention_rollout, cls_relevance, group_words, word_scores
from attention_lab.interpret.explanation import jensen_shannon, kendall_tau
from attention_lab.interpret.highlight import highlight_html
from attention_lab.interpret.viewer import attention_viewer_html
from attention_lab.models.bert import BertModel
from attention_lab.tokenization import BertTokenizer
from attention_lab.viz.attention import attention_maps

REVIEW = "This was an absolutely terrible movie. Don't be lured in by Christopher Walken"


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# Rollout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [1, 3])
def test_rollout_of_uniform_attention_is_known_in_closed_form(layers):
    n = 5
    uniform = np.full((layers, 4, n, n), 1.0 / n)
    # Ã = ½U + ½I with U² = U, so Ã^L = 2^-L·I + (1 - 2^-L)·U
    expected = 0.5**layers * np.eye(n) + (1 - 0.5**layers) / n
    np.testing.assert_allclose(attention_rollout(uniform)[-1], expected, atol=1e-12)
    np.testing.assert_allclose(attention_rollout(uniform[:1])[0], 0.5 / n + 0.5 * np.eye(n))


def test_rollout_rows_sum_to_one_and_padding_gets_no_relevance():
    rng = np.random.default_rng(0)
    n, real = 7, 5
    scores = rng.normal(size=(3, 2, n, n))
    scores[..., real:] = -1e9  # padded keys get no weight from any query, as in BERT
    weights = _softmax(scores)
    weights[:, :, real:, :] = rng.random((3, 2, n - real, n))  # padded queries: not text
    mask = np.arange(n) < real
    rollout = attention_rollout(weights, mask)
    np.testing.assert_allclose(rollout[:, :real].sum(axis=-1), 1.0, atol=1e-12)
    assert not rollout[:, :, real:].any() and not rollout[:, real:, :].any()
    np.testing.assert_allclose(
        rollout[:, :real, :real], attention_rollout(weights[..., :real, :real])
    )
    assert (cls_relevance(weights, mask)[:, real:] == 0).all()


def test_rollout_without_residual_is_the_product_of_head_means():
    weights = _softmax(np.random.default_rng(1).normal(size=(2, 3, 4, 4)))
    means = weights.mean(axis=1)
    np.testing.assert_allclose(attention_rollout(weights, residual=0.0)[1], means[1] @ means[0])


def test_rollout_refuses_what_is_not_one_example():
    with pytest.raises(AttentionLabError, match="layers, heads, n, n"):
        attention_rollout(np.ones((1, 2, 2, 3, 3)))
    with pytest.raises(AttentionLabError, match="no real token"):
        attention_rollout(np.ones((1, 1, 3, 3)) / 3, mask=[0, 0, 0])


def test_rollout_of_a_padded_batch_row_equals_the_unpadded_text(tmp_path):
    import tensorflow as tf

    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    bert = BertModel(tiny_config())
    bert.build()
    padded = tokenizer.encode_batch(["the movie was boring"], max_length=12, padding="max_length")
    outputs = bert({k: tf.constant(v) for k, v in padded.items()}, output_attentions=True)
    weights = np.stack([np.asarray(a)[0] for a in outputs["attentions"]])
    maps = attention_maps(bert, tokenizer, "the movie was boring", max_len=12)
    n = len(maps.tokens)
    with_padding = attention_rollout(weights, padded["attention_mask"][0])
    np.testing.assert_allclose(with_padding[:, :n, :n], attention_rollout(maps.weights), atol=1e-6)


# Rank correlation and divergence ---------------------------------------------------------------


def test_kendall_tau_is_scipys_tau_b_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    for _ in range(5):
        x, y = rng.integers(0, 4, 30), rng.normal(size=30)
        assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    assert np.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))


def test_jensen_shannon_runs_from_zero_to_ln_2():
    p = np.array([0.2, 0.8, 0.0])
    assert jensen_shannon(p, p) == pytest.approx(0.0)
    assert jensen_shannon([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2))
    assert 0 < jensen_shannon(p, [0.5, 0.25, 0.25]) < np.log(2)


# Words and their offsets ------------------------------------------------------------------------


def test_wordpieces_are_merged_into_the_words_as_written(minilm_dir):
    tokenizer = BertTokenizer.from_pretrained(minilm_dir)  # uncased: "walk", "##en"
    ids = tokenizer.encode_batch([REVIEW], max_length=64)["input_ids"][0]
    words = group_words(tokenizer, REVIEW, ids)
    written = [w.text for w in words]
    assert written[-9:] == ["Don", "'", "t", "be", "lured", "in", "by", "Christopher", "Walken"]
    assert all(REVIEW[w.start : w.end] == w.text for w in words)
    walken = words[-1]
    assert tokenizer.convert_ids_to_tokens([ids[i] for i in walken.tokens]) == ["walk", "##en"]
    scores = np.arange(len(ids), dtype=float)
    assert word_scores(words, scores)[-1] == sum(walken.tokens)
    with pytest.raises(AttentionLabError, match="not this tokenizer's encoding"):
        group_words(tokenizer, "another text", ids)


def test_highlight_keeps_the_text_and_greys_what_was_not_read(minilm_dir):
    tokenizer = BertTokenizer.from_pretrained(minilm_dir)
    text = "Don't <b>be</b> lured & fooled"
    ids = tokenizer.encode_batch([text], max_length=8)["input_ids"][0]  # don ' t < b >
    words = group_words(tokenizer, text, ids)
    page = highlight_html(text, words, np.linspace(-1, 1, len(words)), title="t")
    assert "<b>" not in page and "&lt;/b&gt;" in page and "&amp;" in page  # shown, not obeyed
    assert page.count("border-radius: 3px") == len(words) == 6
    assert "rgba(214, 60, 50" in page and "rgba(45, 108, 223" in page  # both signs coloured
    assert "not read" in page and "fooled" in page


# The viewer page -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_maps(tmp_path_factory):
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path_factory.mktemp("vocab")))
    bert = BertModel(tiny_config())
    bert.build()
    return attention_maps(bert, tokenizer, "the movie was good", max_len=16, queries_and_keys=True)


def test_queries_and_keys_give_back_the_attention(tiny_maps):
    q, k = tiny_maps.queries, tiny_maps.keys  # (L, A, n, d)
    scores = np.einsum("lhid,lhjd->lhij", q, k) / np.sqrt(q.shape[-1])
    np.testing.assert_allclose(_softmax(scores), tiny_maps.weights, atol=1e-5)


def test_viewer_page_is_self_contained_and_carries_the_numbers(tiny_maps):
    import base64
    import json
    import re

    page = attention_viewer_html(tiny_maps, title="a </script> title")
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert set(re.findall(r"https?://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "a &lt;/script&gt; title" in page
    data = json.loads(re.search(r'id="viewer-data">(.*?)</script>', page, re.S).group(1))
    assert data["tokens"] == tiny_maps.tokens and data["head_size"] == tiny_maps.queries.shape[-1]
    weights = np.frombuffer(base64.b64decode(data["attention"]), "<f2")
    np.testing.assert_allclose(
        weights.reshape(tiny_maps.weights.shape), tiny_maps.weights, atol=1e-3
    )
    with pytest.raises(AttentionLabError, match="do not match"):
        attention_viewer_html(type(tiny_maps)(tiny_maps.tokens[:2], tiny_maps.weights))


# Attributions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["prebuilt", "custom"])
def test_the_forward_pass_from_embeddings_is_the_classifiers(head, tmp_path):
    import tensorflow as tf

    from attention_lab.interpret.attributions import logits_from_word_embeddings
    from attention_lab.models.bert import build_classifier

    classifier = build_classifier(head, tiny_config())
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    encoded = tokenizer.encode_batch(["the movie", "a great film was fun"], max_length=8)
    inputs = {k: tf.constant(v) for k, v in encoded.items()}
    table = np.asarray(classifier.bert.embeddings.word_embeddings.embeddings)
    ours = logits_from_word_embeddings(
        classifier, table[encoded["input_ids"]], inputs["token_type_ids"], inputs["attention_mask"]
    )
    np.testing.assert_allclose(ours, classifier(inputs, training=False), atol=1e-6)


def _classifier(minilm_dir):
    """A real fine-tuned MiniLM classifier folder when one is around (ATTENTION_LAB_INTERPRET_RUN
    or runs/jw-minilm-prebuilt-hf), else the real MiniLM with a seeded head (whose log-odds
    move less, so the quadrature needs more points for the same relative error)."""
    import os
    from pathlib import Path

    import keras

    from attention_lab.convert import load_bert

    found = os.environ.get("ATTENTION_LAB_INTERPRET_RUN") or (
        Path(__file__).resolve().parents[1] / "runs" / "jw-minilm-prebuilt-hf"
    )
    if Path(found).is_dir():
        loaded = load_bert(found)
        return "fine-tuned", loaded.model, loaded.tokenizer(), 32
    keras.utils.set_random_seed(0)
    loaded = load_bert(minilm_dir, head="prebuilt", num_labels=2)
    return "seeded head", loaded.model, loaded.tokenizer(), 64


@pytest.mark.slow
def test_integrated_gradients_add_up_to_the_change_in_log_odds(minilm_dir):
    from attention_lab.interpret.attributions import gradient_x_input, integrated_gradients

    what, classifier, tokenizer, steps = _classifier(minilm_dir)
    coarse = integrated_gradients(classifier, tokenizer, REVIEW, steps=4, max_len=32)
    fine = integrated_gradients(classifier, tokenizer, REVIEW, steps=steps, max_len=32)
    assert fine.completeness_error < 0.01, (what, fine.completeness_error)
    assert fine.completeness_error < coarse.completeness_error, what
    assert fine.scores[0] == 0.0 and fine.scores[-1] == 0.0  # [CLS], [SEP]: as in the baseline
    gxi = gradient_x_input(classifier, tokenizer, REVIEW, target=fine.target, max_len=32)
    assert gxi.completeness_error is None and gxi.scores.shape == fine.scores.shape
    assert gxi.output == pytest.approx(fine.output, abs=1e-5)


def test_attribution_arguments_are_checked(tmp_path):
    from attention_lab.interpret.attributions import integrated_gradients
    from attention_lab.models.bert import build_classifier

    classifier = build_classifier("prebuilt", tiny_config())
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    with pytest.raises(AttentionLabError, match="target 2 is not a label"):
        integrated_gradients(classifier, tokenizer, "the movie", target=2)
    with pytest.raises(AttentionLabError, match="at least 1 step"):
        integrated_gradients(classifier, tokenizer, "the movie", steps=0)


# The attention command -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "classifier", head=True)


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "encoder")


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--out", "{tmp}/"], ["is a folder", "attention.png"]),
        (["--out", "{tmp}"], ["is a folder"]),
        (["--out", "{tmp}/a.docx"], ["cannot write a figure as .docx"]),
        (["--html", "{tmp}/"], ["is a folder", "attention.html"]),
        ([], ["nothing to write", "--out", "--html"]),
        (["--out", "{tmp}/a.png", "--html", "{tmp}/a.png"], ["the same file"]),
        (
            ["--method", "rollout", "--layer", "0", "--head", "1", "--out", "{tmp}/a.png"],
            ["--head"],
        ),
        (["--layer", "5", "--out", "{tmp}/a.png"], ["--layer 5 does not exist", "0 … 1"]),
    ],
)
def test_attention_refuses_bad_requests_in_one_line(extra, words, tiny_classifier_dir, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    result = run_cli(
        "attention", "--model", tiny_classifier_dir, "the movie", "--max-len", "16", *args
    )
    assert_refused(result, *words)
    assert list(tmp_path.iterdir()) == []


def test_attributions_need_a_classifier(tiny_encoder_dir, tmp_path):
    result = run_cli(
        "attention",
        "--model",
        tiny_encoder_dir,
        "the movie",
        "--max-len",
        "16",
        "--method",
        "integrated-gradients",
        "--out",
        tmp_path / "a.png",
    )
    assert_refused(result, "needs a fine-tuned classifier", "attention-lab finetune")


@pytest.mark.parametrize("method", ["raw", "rollout", "integrated-gradients", "gradient-x-input"])
def test_every_method_writes_its_png_and_html(method, tiny_classifier_dir, tmp_path):
    status, out, err = run_cli(
        "attention",
        "--model",
        tiny_classifier_dir,
        "the movie was not very good",
        "--method",
        method,
        "--steps",
        "8",
        "--max-len",
        "16",
        "--out",
        tmp_path / "a.png",
        "--html",
        tmp_path / "a.html",
    )
    assert status == 0, err
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "a.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert ("viewer-data" in page) == (method == "raw")
    assert ("<span title=" in page) == (method != "raw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.png"]
    if method == "integrated-gradients":
        assert "f(x) - f(baseline)" in out and "error" in out
