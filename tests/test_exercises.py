"""Issue 33, the chapter's exercises: the Treebank-style tokenizer, the new `glove train` flags,
the heads over every token, and the experiment driver (its statistics and its fast mode)."""

from __future__ import annotations

import gzip
import json
import math

import keras
import numpy as np
import pytest
from glove_imdb_data import write_tiny_glove, write_tiny_imdb_archive
from layer_harness import check_layer
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.cli.main import main
from attention_lab.data.text_encoder import TokenEncoder
from attention_lab.data.treebank import (
    TreebankEncoder,
    build_treebank_vocabulary,
    encoder_for,
    make_encoder,
    tokenize_treebank,
)
from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import HEADS, build_classifier, head_name, set_encoder_trainable
from attention_lab.models.bert_token_heads import (
    BertTokenConcatClassifier,
    BertTokenLSTMClassifier,
)
from attention_lab.models.bilstm import build_bilstm_classifier
from benchmarks import exercises

# --- the tokenizer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Don't be lured", ["do", "n't", "be", "lured"]),
        ("I can't, won't and ain't", ["i", "ca", "n't", ",", "wo", "n't", "and", "ai", "n't"]),
        ("It's John's; they're, we've, I'll, he'd, I'm",
         ["it", "'s", "john", "'s", ";", "they", "'re", ",", "we", "'ve", ",", "i", "'ll", ",",
          "he", "'d", ",", "i", "'m"]),
        ('He said "stop" (twice) [sic] {x}',
         ["he", "said", "``", "stop", "''", "(", "twice", ")", "[", "sic", "]", "{", "x", "}"]),
        ("Wait... what -- really?!", ["wait", "...", "what", "--", "really", "?", "!"]),
        ("The U.S. and Mr. Smith, e.g. here.", ["the", "u.s.", "and", "mr.", "smith", ",",
                                                 "e.g.", "here", "."]),
        ("movie.The end<br /><br />Next", ["movie", ".", "the", "end", "next"]),
        ("3.5 of 1,000 at 7/10", ["3.5", "of", "1,000", "at", "7", "/", "10"]),
        ("a well-made o'clock 'em L'intrus", ["a", "well", "-", "made", "o'clock", "'em", "l'",
                                              "intrus"]),
        ("dogs' bones 'quoted'", ["dogs", "'", "bones", "`", "quoted", "'"]),
        ("Tom\x92s \x93film\x94 \x96 fine", ["tom", "'s", "``", "film", "''", "--", "fine"]),
    ],
)  # fmt: skip
def test_treebank_tokens(text, tokens):
    assert tokenize_treebank(text) == tokens


def test_treebank_keeps_compounds_on_request_and_case_for_the_vocabulary():
    assert tokenize_treebank("A well-made 7/10", keep_compounds=True) == ["a", "well-made", "7/10"]
    assert tokenize_treebank("DON'T Stop", lowercase=False) == ["DO", "N'T", "Stop"]
    vocabulary, longest = build_treebank_vocabulary([b"Don't stop.", "The end"])
    assert vocabulary == [".", "Do", "The", "end", "n't", "stop"] and longest == 4


def test_treebank_spellings_are_glove_6b_words(glove_file):
    """Every token it makes of contractions, quotes, brackets and punctuation has a vector in
    the real glove.6B.50d (which spells brackets as they are, not -lrb-)."""
    with gzip.open(glove_file, "rt", encoding="utf-8") as lines:
        glove = {line.split(" ", 1)[0] for line in lines}  # the words alone: seconds faster
    text = (
        "I don't, can't, won't; it's \"great\" (really) [sic] {ok} -- wait... U.S. Mr. Dr. "
        "they're we've I'll he'd I'm 'em o'clock ?! 3.5 1,000"
    )
    tokens = tokenize_treebank(text)
    assert [t for t in tokens if t not in glove] == []
    assert "-lrb-" not in glove and "(" in glove and "``" in glove and "''" in glove


def test_treebank_encoder_lowercases_and_maps_unknown_words_to_the_oov_id():
    encoder, longest = make_encoder("treebank", ["Don't stop", "The end."])
    assert isinstance(encoder, TreebankEncoder) and longest == 3
    assert encoder.decode(encoder.encode("DON'T stop unseen")) == "do n't stop UNK"
    assert type(make_encoder("tfds", ["Don't"])[0]) is TokenEncoder
    assert isinstance(encoder_for("treebank", encoder.vocab_list), TreebankEncoder)
    with pytest.raises(AttentionLabError, match="unknown tokenizer"):
        make_encoder("stanford", ["x"])


# --- the BiLSTM's new options -------------------------------------------------------------------


def test_embedding_dropout_sits_between_the_embedding_and_the_first_lstm():
    model = build_bilstm_classifier(30, "scratch", max_len=8, embedding_dropout=0.4)
    names = [layer.name for layer in model.layers]
    assert names.index("embedding") + 1 == names.index("embedding_dropout")
    assert names.index("embedding_dropout") + 1 == names.index("bilstm_1")
    assert model.get_layer("embedding_dropout").rate == 0.4
    assert "embedding_dropout" not in [
        layer.name for layer in build_bilstm_classifier(30, "scratch", max_len=8).layers
    ]
    ids = np.array([[3, 4, 5, 0, 0, 0, 0, 0]], dtype=np.int32)
    other = ids.copy()
    other[0, 4:] = 0  # the same review: padding stays masked through the dropout
    np.testing.assert_allclose(model(ids), model(other))
    with pytest.raises(AttentionLabError, match="dropout"):
        build_bilstm_classifier(30, "scratch", max_len=8, embedding_dropout=1.0)


@pytest.fixture
def eager():
    """Keras's training steps run eagerly: seconds of tracing saved on tiny data."""
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


def test_glove_train_flags_validation_test_every_epoch_treebank_and_dropout(
    tmp_path, eager, capsys
):
    data = write_tiny_imdb_archive(tmp_path / "imdb.tar.gz", per_folder=8)
    glove = write_tiny_glove(tmp_path / "glove.6B.50d.txt.gz")
    out = tmp_path / "run"
    common = ["glove", "train", "--mode", "finetune", "--glove", str(glove), "--data", str(data),
              "--max-len", "12", "--out", str(out), "--json"]  # fmt: skip
    flags = ["--tokenizer", "treebank", "--embedding-dropout", "0.3", "--validation-split",
             "0.25", "--test-every-epoch"]  # fmt: skip
    assert main([*common, "--epochs", "2", *flags]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tokenizer"] == "treebank" and metrics["embedding_dropout"] == 0.3
    assert metrics["train_reviews"] == 12 and metrics["validation_reviews"] == 4
    for row in metrics["history"]:  # validation and test figures after every epoch
        assert {"val_accuracy", "test_accuracy", "test_precision", "test_recall"} <= set(row)
    assert metrics["history"][-1]["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert json.loads((out / "encoder.json").read_text())["tokenizer"] == "treebank"
    assert keras.models.load_model(out / "model.keras").get_layer("embedding_dropout").rate == 0.3
    capsys.readouterr()
    assert main(["glove", "evaluate", str(out), "--data", str(data), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)  # read back with the Treebank encoder
    assert evaluated["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_glove_train_resume_names_a_changed_exercise_option_and_accepts_old_records(
    tmp_path, eager, capsys
):
    data = write_tiny_imdb_archive(tmp_path / "imdb.tar.gz")
    glove = write_tiny_glove(tmp_path / "glove.6B.50d.txt.gz")
    out = tmp_path / "run"
    common = ["glove", "train", "--mode", "frozen", "--glove", str(glove), "--data", str(data),
              "--max-len", "12", "--out", str(out), "--json"]  # fmt: skip
    assert main([*common, "--epochs", "1"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    record["test"], record["epochs"] = None, 2  # interrupted after epoch 1 of 2
    for key in ("tokenizer", "embedding_dropout", "validation_split", "test_every_epoch"):
        del record[key]  # as written before issue 33
    (out / "metrics.json").write_text(json.dumps(record))
    assert main([*common, "--epochs", "2", "--resume", "--embedding-dropout", "0.2"]) == 2
    assert "embedding_dropout 0.2 here, 0.0 in the run" in capsys.readouterr().err
    assert main([*common, "--epochs", "2", "--resume"]) == 0  # the defaults of old records
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2


@pytest.mark.parametrize("flag", ["--embedding-dropout", "--validation-split"])
def test_rates_of_one_or_more_are_refused_by_the_parser(flag, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["glove", "train", "--mode", "scratch", flag, "1"])
    assert refused.value.code == 2 and flag in capsys.readouterr().err


# --- the heads over every token -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "head_kwargs"),
    [
        (BertTokenLSTMClassifier, {"lstm_units": 6, "head_dropout": 0.3}),
        (BertTokenConcatClassifier, {"head_length": 14, "head_units": 8, "head_dropout": 0.3}),
    ],
)
def test_token_heads_pass_the_layer_harness(cls, head_kwargs, tmp_path):
    config = tiny_config(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, num_labels=3)
    inputs = toy_sentiment(4).features
    logits = check_layer(
        cls, {"config": config, **head_kwargs}, (inputs,), directory=tmp_path, compiled=False
    )
    assert tuple(logits.shape) == (4, 3)


@pytest.mark.parametrize("head", ["lstm", "concat"])
def test_token_heads_round_trip_through_the_converter(head, tmp_path):
    from attention_lab.convert import load_bert, save_bert

    assert head in HEADS
    model = build_classifier(head, tiny_config())
    inputs = toy_sentiment(3).features
    save_bert(model, tmp_path / "folder")
    config = json.loads((tmp_path / "folder" / "config.json").read_text())
    assert config["attention_lab"]["head"] == head
    # the same encoder block as the model's, so that the weights alone can differ
    loaded = load_bert(tmp_path / "folder", implementation=model.implementation)
    assert loaded.head == head and head_name(loaded.model) == head
    np.testing.assert_array_equal(loaded.model(inputs), model(inputs))


def test_token_heads_read_every_token_but_not_padding_and_never_train_the_pooler():
    model = build_classifier("concat", tiny_config())
    inputs = toy_sentiment(3).features
    changed = {k: v.copy() for k, v in inputs.items()}
    changed["input_ids"][0, 5] = 11 if inputs["input_ids"][0, 5] != 11 else 12  # a real token
    assert not np.allclose(model(inputs)[0], model(changed)[0])
    padded = np.flatnonzero(inputs["attention_mask"][0] == 0)[0]
    moved = {k: v.copy() for k, v in inputs.items()}
    moved["input_ids"][0, padded] = 7  # under padding: read by nothing
    np.testing.assert_allclose(model(inputs), model(moved), atol=1e-6)
    for trainable in (False, True):
        set_encoder_trainable(model, trainable)
        assert not model.bert.pooler.trainable
    assert model.bert.layers[1].trainable  # the encoder itself follows
    with pytest.raises(AttentionLabError, match="token slots"):
        build_classifier("concat", tiny_config(), head_length=4)(inputs)


def test_finetune_refuses_a_concat_head_longer_than_its_slots(capsys):
    code = main(["finetune", "--model", "x", "--head", "concat", "--max-len", "151",
                 "--out", "y"])  # fmt: skip
    assert code == 2 and "--head concat holds 150 token slots" in capsys.readouterr().err


# --- the driver ---------------------------------------------------------------------------------


def test_two_proportion_interval_and_verdict_on_injected_accuracies():
    test = exercises.two_proportion(0.9, 25_000, 0.88, 25_000)
    half = 1.959964 * math.sqrt(0.9 * 0.1 / 25_000 + 0.88 * 0.12 / 25_000)
    assert test["difference"] == pytest.approx(0.02) and test["half_width"] == pytest.approx(half)
    assert test["ci95"] == pytest.approx([0.02 - half, 0.02 + half])
    assert half == pytest.approx(0.00548, abs=1e-5) and test["verdict"] == exercises.DIFFERS
    assert exercises.two_proportion(0.9, 25_000, 0.896, 25_000)["verdict"] == exercises.SAME
    assert exercises.two_proportion(0.85, 25_000, 0.87, 25_000)["verdict"] == exercises.DIFFERS
    with pytest.raises(ValueError):
        exercises.two_proportion(1.2, 10, 0.5, 10)


def test_second_seeds_and_the_dropout_choice_from_injected_results():
    results = {
        "frozen-last": {"accuracy": 0.82, "test_reviews": 25_000},
        "frozen-first": {"accuracy": 0.818, "test_reviews": 25_000},
        "finetune-last": {"accuracy": 0.875, "test_reviews": 25_000},
        "finetune-first": {"accuracy": 0.84, "test_reviews": 25_000},
    }
    s = exercises.Settings("d", "g", "m")
    rows = [exercises.compare(results, c) for c in exercises.comparisons(s)]
    rows = [r for r in rows if r is not None]
    assert [r["verdict"] for r in rows] == [exercises.SAME, exercises.DIFFERS]
    assert exercises.second_seed_names(rows) == ["frozen-last", "frozen-first"]
    selection = {exercises.dropout_arm(r): {"val_accuracy": v} for r, v in
                 ((0.0, 0.86), (0.2, 0.88), (0.5, 0.88))}  # fmt: skip
    assert exercises.choose_dropout(selection, (0.0, 0.2, 0.5))["rate"] == 0.2  # tie: smaller
    assert exercises.choose_dropout(selection, (0.0, 0.2, 0.5, 0.7)) is None  # 0.7 not run
    # arms of one comparison may run on different CPUs: one precision, not --precision auto
    for arm in exercises.arms(s):
        for argv in exercises.Driver(exercises.ROOT / "unused", s).commands(arm) or []:
            if arm.kind == "bert":
                assert argv[argv.index("--precision") + 1] == "float32", argv
    driver = exercises.Driver(exercises.ROOT / "unused", s)
    arm = driver.add_second_seed("bert-128-then-256")
    assert arm.seed == 43 and arm.after == "bert-128-seed2" and "bert-128-seed2" in driver.arms
    assert list(driver.arms).index("bert-128-seed2") < list(driver.arms).index(arm.name)


def test_fast_mode_runs_arms_with_their_second_seeds_and_skips_finished_ones(
    tmp_path, monkeypatch, capsys
):
    root = tmp_path / "exercises"
    only = ["--only", "frozen-last", "frozen-first", "bert-16", "bert-16-then-32", "bert-32"]
    try:
        assert exercises.main(["--fast", "--root", str(root), *only]) == 0
    finally:
        import tensorflow as tf

        tf.config.run_functions_eagerly(False)
    results = json.loads((root / "results.json").read_text())
    ran = set(results["arms"])
    assert {"frozen-last", "frozen-first", "bert-16", "bert-16-then-32", "bert-32"} <= ran
    for row in results["comparisons"]:  # every first-seed tie was run again with seed 43
        if row["verdict"] == exercises.SAME and not row["first"].endswith("-seed2"):
            assert {row["first"] + "-seed2", row["second"] + "-seed2"} <= ran
    then = results["arms"]["bert-16-then-32"]  # 2 epochs at 16 + 1 at 32 = 2 epochs at 32
    assert then["tokens_processed"] == results["arms"]["bert-32"]["tokens_processed"] == 2 * 38 * 32
    run = json.loads((root / "arms" / "bert-16-then-32" / "run.json").read_text())
    assert run["settings"]["max_len"] == 32 and run["source"].endswith("bert-16")
    assert then["precision"] == "float32"

    def refuse(self, arm, argv):
        raise AssertionError(f"{arm.name} ran again: {argv}")

    monkeypatch.setattr(exercises.Driver, "_execute", refuse)
    capsys.readouterr()
    try:
        assert exercises.main(["--fast", "--root", str(root), *only]) == 0
    finally:
        import tensorflow as tf

        tf.config.run_functions_eagerly(False)
    assert "frozen-last: finished" in capsys.readouterr().out
    assert json.loads((root / "results.json").read_text())["arms"] == results["arms"]


def test_plots_of_experiments_3_and_4_from_the_arms_metrics(tmp_path):
    """--plots draws what the finished arms' metrics.json hold, and nothing for arms not run or
    still running."""

    def arm(root, name, epochs, asked, **per_epoch):
        history = [{"epoch": e + 1, "accuracy": 0.6 + 0.01 * e, **per_epoch} for e in range(epochs)]
        folder = root / "arms" / name
        folder.mkdir(parents=True)
        metrics = {"epochs": asked, "history": history, "test": {"accuracy": 0.8}}
        (folder / "metrics.json").write_text(json.dumps(metrics))

    running, root, plots = tmp_path / "running", tmp_path / "runs", tmp_path / "plots"
    assert exercises.main(["--root", str(tmp_path / "empty"), "--plots", str(plots)]) == 0
    figures = {"test_accuracy": 0.8, "test_precision": 0.78, "test_recall": 0.9}
    arm(running, "frozen-20-epochs", 12, 20, **figures)  # 12 of its 20 epochs so far
    assert exercises.plot(running, plots) == [] and not list(plots.glob("*.png"))
    arm(root, "frozen-20-epochs", 20, 20, **figures)
    arm(root, "frozen-last", 10, 10)
    assert [p.name for p in exercises.plot(root, plots)] == ["longer.png"]
    for rate in ("0", "0.2"):
        arm(root, f"dropout-select-{rate}", 3, 3, val_accuracy=0.7)
    arm(root, "finetune-last", 3, 3)
    written = exercises.plot(root, plots)
    assert [p.name for p in written] == ["longer.png", "dropout.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
