"""The encoder-decoder with and without attention: shapes, masking, decoding, training,
alignment, save/load and the ``seq2seq`` command line."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from attention_lab.cli.main import main
from attention_lab.data.char_vocabulary import END, PAD
from attention_lab.errors import AttentionLabError
from attention_lab.models.seq2seq import EncoderDecoder
from attention_lab.tasks import DATES
from attention_lab.training.seq2seq import (
    TrainingSettings,
    build_model,
    exact_match,
    fit,
    load_run,
    save_run,
)

# Small enough to train in well under a minute on two CPU cores, large enough to align.
SETTINGS = TrainingSettings(epochs=3, n_train=4_096, batch_size=64, units=32, learning_rate=5e-3)


def tiny_model(attention: bool) -> EncoderDecoder:
    model = EncoderDecoder(
        DATES.source_alphabet,
        DATES.target_alphabet,
        DATES.max_source_len,
        DATES.max_target_len,
        embedding_dim=8,
        units=8,
        use_attention=attention,
    )
    model.build()
    return model


@pytest.mark.parametrize("attention", [True, False])
def test_shapes_and_masked_alignment(attention):
    model = tiny_model(attention)
    arrays = DATES.arrays([("3 March 2021", "2021-03-03"), ("03/03/21", "2021-03-03")])
    logits = model({"source": arrays["source"], "decoder_input": arrays["decoder_input"]})
    assert logits.shape == (2, DATES.max_target_len + 1, DATES.target_vocab.size)
    if not attention:
        with pytest.raises(AttentionLabError, match="no attention"):
            model.teacher_forced_alignment(arrays)
        return
    alignment = np.asarray(model.teacher_forced_alignment(arrays))
    assert alignment.shape == (2, DATES.max_target_len + 1, DATES.max_source_len)
    padded = arrays["source"] == PAD  # (batch, S)
    assert np.all(alignment[np.broadcast_to(padded[:, None, :], alignment.shape)] == 0.0)
    np.testing.assert_allclose(alignment.sum(-1), 1.0, rtol=1e-5)


def test_config_round_trip_and_the_flag_of_older_checkpoints():
    model = tiny_model(attention=False)
    config = model.get_config()
    assert EncoderDecoder.from_config(config).get_config() == config
    # Checkpoints written before the rename store the flag as "attention".
    older = {**config, "attention": config["use_attention"]}
    del older["use_attention"]
    assert EncoderDecoder.from_config(older).get_config() == config


def test_decoding_stops_at_the_end_token():
    model = tiny_model(attention=True)
    bias = np.zeros(DATES.target_vocab.size, dtype="float32")
    bias[END] = 100.0  # the first step already prefers </s> to everything else
    model.decoder.output_projection.bias.assign(bias)
    [translation] = model.translate(["3 March 2021"])
    assert translation.ended
    assert translation.text == ""
    assert translation.target_tokens == ["</s>"]
    assert translation.alignment.shape == (1, len("3 March 2021"))
    tokens, _ = model.greedy_decode(DATES.source_vocab.encode_batch(["3 March 2021"], 40))
    assert list(np.asarray(tokens)[0]) == [END] + [PAD] * DATES.max_target_len


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([""], "empty or only whitespace"),
        (["   "], "empty or only whitespace"),
        (["3 März 2021"], "outside the model's vocabulary"),
        (["x" * 41], "at most 40"),
        ("3 March 2021", "list of strings"),
    ],
)
def test_translate_rejects_bad_input(texts, message):
    with pytest.raises(AttentionLabError, match=message):
        tiny_model(attention=False).translate(texts)


# What train_run writes to training.json, in short.
RUN_RECORD = {
    "task": "dates",
    "attention": True,
    "settings": {"epochs": SETTINGS.epochs},
    "exact_match": 0.5,
    "exact_match_by_length": [{"first": 5, "last": 9, "examples": 2, "exact_match": 0.5}],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small dates model with attention, trained once for the tests below."""
    train, test = DATES.split(SETTINGS.n_train, 200, seed=SETTINGS.seed)
    model = build_model(DATES, use_attention=True, settings=SETTINGS)
    untrained = exact_match(model, test[:50])
    history = fit(model, DATES, train, SETTINGS, verbose=0)
    checkpoint = save_run(model, tmp_path_factory.mktemp("seq2seq") / "dates", RUN_RECORD)
    return model, history.history["loss"], untrained, test, checkpoint


@pytest.mark.slow
def test_a_short_training_run_learns(trained):
    model, losses, untrained, test, _ = trained
    assert untrained == 0.0
    assert losses[-1] < 0.2 * losses[0]
    assert exact_match(model, test) >= 0.5


@pytest.mark.slow
def test_year_outputs_attend_to_the_source_year(trained):
    model, _, _, test, _ = trained
    masses = []
    translations = model.translate([s for s, _ in test])
    for translation, (source, target) in zip(translations, test, strict=True):
        if source.count(target[:4]) != 1:
            continue  # a two-digit year, or the year's digits occur twice
        start = source.index(target[:4])
        # Rows 0-3 are the steps that write the year; columns the year's four characters.
        masses.append(translation.alignment[:4, start : start + 4].sum(axis=1))
    masses = np.array(masses)  # (examples, 4)
    assert len(masses) >= 100
    assert masses.mean() >= 0.6, f"year rows put only {masses.mean():.2f} on the source year"
    assert np.median(masses) >= 0.7


@pytest.mark.slow
def test_decoded_dates_end_with_the_end_token(trained):
    model, _, _, test, _ = trained
    for translation in model.translate([s for s, _ in test[:64]]):
        assert translation.ended
        assert translation.target_tokens[-1] == "</s>"
        assert len(translation.target_tokens) == 11
        assert translation.alignment.shape == (11, len(translation.source))
        datetime.date.fromisoformat(translation.text)


@pytest.mark.slow
def test_save_and_load_give_the_same_translation(trained):
    model, _, _, test, checkpoint = trained
    loaded, metadata = load_run(checkpoint)
    assert metadata == RUN_RECORD
    sources = [s for s, _ in test[:64]]
    for before, after in zip(model.translate(sources), loaded.translate(sources), strict=True):
        assert before.text == after.text
        np.testing.assert_allclose(before.alignment, after.alignment, atol=1e-6)


@pytest.mark.slow
def test_cli_translate_plot_and_errors(trained, tmp_path, capsys):
    model, _, _, _, checkpoint = trained
    expected = model.translate(["3 March 2021"])[0].text
    assert main(["seq2seq", "translate", "--checkpoint", str(checkpoint), "3 March 2021"]) == 0
    assert capsys.readouterr().out == f"3 March 2021\t{expected}\n"
    png = tmp_path / "alignment.png"
    argv = ["seq2seq", "plot", "--checkpoint", str(checkpoint), "3 March 2021", "--out"]
    assert main([*argv, str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    argv = ["seq2seq", "translate", "--checkpoint", str(checkpoint), "3 März 2021"]
    assert main(argv) == 2
    assert "outside the model's vocabulary" in capsys.readouterr().err
    assert main(["seq2seq", "translate", "--checkpoint", str(tmp_path), "x"]) == 2
    assert "not a seq2seq run folder" in capsys.readouterr().err


def _metadata(attention: bool, accuracies: list[float]) -> dict:
    rows = [
        {"first": first, "last": first + 4, "examples": 10, "exact_match": accuracy}
        for first, accuracy in zip((5, 10), accuracies, strict=True)
    ]
    overall = sum(accuracies) / len(accuracies)
    return {"attention": attention, "exact_match": overall, "exact_match_by_length": rows}


def test_length_table_and_plot(tmp_path):
    from attention_lab.cli.seq2seq import format_length_table
    from attention_lab.viz.accuracy_by_length import plot_accuracy_by_length
    from attention_lab.viz.attention import save_figure

    results = {"attention": _metadata(True, [1.0, 0.99]), "plain": _metadata(False, [0.6, 0.1])}
    table = format_length_table(results).splitlines()
    assert table[0] == "| input length | examples | attention | plain |"
    assert table[2:] == [
        "| 5–9 | 10 | 100.0% | 60.0% |",
        "| 10–14 | 10 | 99.0% | 10.0% |",
        "| all | 20 | **99.5%** | **35.0%** |",
    ]
    fig, ax = plot_accuracy_by_length(results)
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[100.0, 99.0], [60.0, 10.0]]
    assert save_figure(fig, tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    results["plain"]["exact_match_by_length"][0]["examples"] = 11
    with pytest.raises(AttentionLabError, match="different held-out sets"):
        format_length_table(results)


def test_heatmap_labels_and_shape_check():
    from attention_lab.viz.heatmap import plot_heatmap

    fig, ax = plot_heatmap(np.eye(2, 3), ["a", "b", "c"], ["x", "y"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    assert ax.get_title() == "t" and ax.figure is fig
    with pytest.raises(AttentionLabError, match="needs 2 row labels and 3 column labels"):
        plot_heatmap(np.eye(2, 3), ["a", "b"], ["x", "y"])
