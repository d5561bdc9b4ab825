"""attention_lab.compat: the chapter's code runs with only its imports changed (issue 28).

Each adapter is compared with the library the chapter imported, where it is installed:
transformers' tokenizer and ``BertModel`` / ``BertForSequenceClassification`` (PyTorch), and
tensorflow-datasets' ``deprecated.text`` and its own ``imdb_reviews`` order on a small fake
archive; the parameter counts are the chapter's, on the bert-base-cased configuration.
"""

from __future__ import annotations

import io
import tarfile

import keras
import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.compat import tfds
from attention_lab.compat.transformers import (
    BertTokenizer,
    TFBertForSequenceClassification,
    TFBertModel,
)
from attention_lab.convert.hf_checkpoint import bert_config, read_hf_config
from attention_lab.data import imdb
from attention_lab.errors import AttentionLabError

REVIEW = (
    "This was an absolutely terrible movie. Don't be lured in by Christopher Walken or "
    "Michael Ironside."
)
FEATURES = ("input_ids", "token_type_ids", "attention_mask")

# ------------------------------------------------------------------------------ section 4


@pytest.fixture(scope="module")
def chapter_tokenizer(bert_base_cased_dir):
    """The chapter's call, keywords and all."""
    return BertTokenizer.from_pretrained(
        bert_base_cased_dir,
        add_special_tokens=True,
        do_lower_case=False,
        max_length=150,
        pad_to_max_length=True,
    )


@pytest.fixture(scope="module")
def reference_tokenizer(bert_base_cased_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(bert_base_cased_dir)


def test_from_pretrained_keeps_the_chapters_keywords_without_applying_them(chapter_tokenizer):
    assert chapter_tokenizer.init_kwargs == {
        "add_special_tokens": True,
        "do_lower_case": False,
        "max_length": 150,
        "pad_to_max_length": True,
    }
    assert not chapter_tokenizer.do_lower_case
    assert len(chapter_tokenizer.encode("Don't be lured")) == 8  # no padding to 150


def test_encode_and_decode_as_the_chapter_prints_them(chapter_tokenizer, reference_tokenizer):
    ids = chapter_tokenizer.encode(REVIEW, add_special_tokens=True)
    assert ids == reference_tokenizer.encode(REVIEW, add_special_tokens=True)
    assert chapter_tokenizer.decode(ids) == f"[CLS] {REVIEW} [SEP]"
    for clean_up in (True, False):
        assert chapter_tokenizer.decode(
            ids, clean_up_tokenization_spaces=clean_up
        ) == reference_tokenizer.decode(ids, clean_up_tokenization_spaces=clean_up)
    pieces = [chapter_tokenizer.decode([token]) for token in ids]
    assert pieces == [reference_tokenizer.decode([token]) for token in ids]
    assert "be lure ##d in by Christopher Walk ##en or Michael Iron ##side" in " ".join(pieces)


@pytest.mark.parametrize(
    ("text", "pair", "max_length"), [(" Don't be lured", None, 9), (" Don't be", " lured", 10)]
)
def test_encode_plus_as_the_chapter_calls_it(
    chapter_tokenizer, reference_tokenizer, text, pair, max_length
):
    with pytest.warns(FutureWarning, match="pad_to_max_length"):
        got = chapter_tokenizer.encode_plus(
            text,
            pair,
            add_special_tokens=True,
            max_length=max_length,
            pad_to_max_length=True,
            return_attention_mask=True,
            return_token_type_ids=True,
        )
    expected = reference_tokenizer(
        text, pair, max_length=max_length, padding="max_length", truncation=True
    )
    assert {key: got[key] for key in FEATURES} == {key: expected[key] for key in FEATURES}


def test_tokenizer_refuses_unknown_keywords_and_offline_hub_ids(bert_base_cased_dir):
    with pytest.raises(AttentionLabError, match="does not take lowercase; it takes"):
        BertTokenizer.from_pretrained(bert_base_cased_dir, lowercase=False)
    with pytest.raises(AttentionLabError, match="cannot get 'attention-lab/no-such-model'"):
        BertTokenizer.from_pretrained("attention-lab/no-such-model")


# ------------------------------------------------------------------------------ sections 5, 6


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("torch")
    return save_hf_checkpoint(tmp_path_factory.mktemp("compat") / "tiny-bert")


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    mask = np.ones((3, 7), np.int64)
    mask[0, 5:] = 0
    types = np.zeros((3, 7), np.int64)
    types[1, 4:] = 1
    ids = rng.integers(1, 120, size=(3, 7))
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _torch(batch):
    import torch

    return {key: torch.tensor(value) for key, value in batch.items()}


def test_tfbertmodel_outputs_by_name_and_position_match_transformers(tiny_dir, batch):
    import torch
    import transformers

    outputs = TFBertModel.from_pretrained(tiny_dir)(batch)
    assert outputs[0] is outputs.last_hidden_state is outputs["last_hidden_state"]
    assert outputs[1] is outputs.pooler_output is outputs["pooler_output"]
    assert len(outputs) == 2  # unset fields are left out, as in Hugging Face's ModelOutput
    with torch.no_grad():
        expected = transformers.BertModel.from_pretrained(tiny_dir).eval()(**_torch(batch))
    for name in ("last_hidden_state", "pooler_output"):
        np.testing.assert_allclose(outputs[name], getattr(expected, name).numpy(), atol=1e-5)


def test_tfbertmodel_takes_the_tensors_one_by_one_and_returns_what_is_asked():
    model = TFBertModel({"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 2,
                         "num_attention_heads": 2, "intermediate_size": 16})  # fmt: skip
    ids = np.array([[5, 6, 7, 0]])
    outputs = model(ids, attention_mask=np.array([[1, 1, 1, 0]]), output_hidden_states=True,
                    output_attentions=True)  # fmt: skip
    assert outputs._fields == ("last_hidden_state", "pooler_output", "hidden_states", "attentions")
    assert len(outputs.hidden_states) == 3 and outputs.attentions[0].shape == (1, 2, 4, 4)


def test_the_chapters_custom_model_on_keras_inputs(tiny_dir, batch):
    bert = TFBertModel.from_pretrained(tiny_dir)
    inputs = {name: keras.Input(shape=(7,), dtype="int64", name=name) for name in FEATURES}
    pooled = bert(inputs)[1]
    x = keras.layers.Dropout(0.2)(pooled)
    x = keras.layers.Dense(200, activation="relu")(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(x))
    head = 32 * 200 + 200 + 200 * 2 + 2
    assert model.count_params() == bert.count_params() + head
    bert.trainable = False
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == head
    assert model.predict(batch, verbose=0).shape == (3, 2)


def test_classifier_compiles_fits_evaluates_and_saves_for_transformers(tiny_dir, batch, tmp_path):
    import torch
    import transformers

    model = TFBertForSequenceClassification.from_pretrained(tiny_dir)  # a new 2-label head
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=2e-5),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    labels = keras.utils.to_categorical([0, 1, 1], 2)
    model.fit(batch, labels, epochs=1, batch_size=3, verbose=0)
    loss, accuracy = model.evaluate(batch, labels, verbose=0)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    logits = model(batch).logits
    assert model(batch)[0].shape == (3, 2)
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        expected = transformers.BertForSequenceClassification.from_pretrained(tmp_path).eval()(
            **_torch(batch)
        )
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-5)
    reloaded = TFBertForSequenceClassification.from_pretrained(tmp_path)
    np.testing.assert_allclose(reloaded(batch)["logits"], logits, atol=1e-6)


def test_from_pretrained_reads_our_custom_head_folder(tiny_dir, batch, tmp_path):
    """A folder with the chapter's custom head (what ``finetune --head custom`` writes)."""
    from attention_lab.convert import load_bert, save_bert

    custom = load_bert(tiny_dir, head="custom").model
    save_bert(custom, tmp_path / "custom")
    expected = custom.bert(batch)["pooled_output"]
    np.testing.assert_allclose(
        TFBertModel.from_pretrained(tmp_path / "custom")(batch).pooler_output, expected, atol=1e-6
    )
    classifier = TFBertForSequenceClassification.from_pretrained(tmp_path / "custom")
    assert classifier(batch).logits.shape == (3, 2)  # a new pre-built head on the same encoder
    np.testing.assert_allclose(classifier.bert(batch)["pooled_output"], expected, atol=1e-6)


def test_models_refuse_unknown_keywords(tiny_dir):
    with pytest.raises(AttentionLabError, match="does not take output_layers; it takes from_pt"):
        TFBertModel.from_pretrained(tiny_dir, output_layers=True)


def test_parameter_counts_are_the_chapters_on_bert_base_cased(bert_base_cased_dir, capsys):
    config = bert_config(read_hf_config(bert_base_cased_dir))
    assert TFBertForSequenceClassification(config).count_params() == 108_311_810
    bert = TFBertModel(config)
    assert bert.count_params() == 108_310_272
    inputs = {name: keras.Input(shape=(150,), dtype="int64", name=name) for name in FEATURES}
    x = keras.layers.Dropout(0.2)(bert(inputs)[1])
    x = keras.layers.Dropout(0.2)(keras.layers.Dense(200, activation="relu")(x))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(x))
    bert.trainable = False
    model.summary()
    printed = capsys.readouterr().out
    assert "108,464,474" in printed and "154,202" in printed


# ------------------------------------------------------------------------------ section 2


def test_tokenizer_and_token_text_encoder_as_tensorflow_datasets_had_them():
    real = pytest.importorskip("tensorflow_datasets").deprecated.text
    texts = [REVIEW, "The the THE, naïve <br />café!", b"bytes too"]
    tokenizer, reference = tfds.features.text.Tokenizer(), real.Tokenizer()
    vocabulary = set()
    for text in texts:
        assert tokenizer.tokenize(text) == reference.tokenize(text)
        vocabulary.update(tokenizer.tokenize(text))
    ours = tfds.features.text.TokenTextEncoder(vocabulary, lowercase=True, tokenizer=tokenizer)
    theirs = real.TokenTextEncoder(sorted(vocabulary), lowercase=True, tokenizer=reference)
    assert (ours.vocab_size, ours.tokens) == (theirs.vocab_size, theirs.tokens)
    for text in [*texts, "words nobody wrote"]:
        assert ours.encode(text) == theirs.encode(text)
        assert ours.decode(ours.encode(text)) == theirs.decode(theirs.encode(text))
    with pytest.raises(AttentionLabError, match="leave oov_buckets"):
        tfds.features.text.TokenTextEncoder(vocabulary, oov_buckets=2)


def _fake_reviews():
    """(path in the archive, stripped text, label): three short reviews in each folder."""
    labels = {"neg": 0, "pos": 1, "unsup": -1}
    for split, folders in (("train", ("neg", "pos", "unsup")), ("test", ("neg", "pos"))):
        for folder in folders:
            for number in range(3):
                text = f"{split} {folder} review {number}.".encode()
                yield f"aclImdb/{split}/{folder}/{number}_7.txt", text, labels[folder]


def _fake_archive(path):
    with tarfile.open(path, "w:gz") as tar:
        for name, text, _ in _fake_reviews():
            data = b"  " + text + b"\n"  # tensorflow-datasets strips the whitespace
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def _tfds_order(split: str, folders: tuple[str, ...]) -> list[tuple[bytes, int]]:
    """tensorflow-datasets' order of a split: by the md5 of the split name and the path."""
    from tensorflow_datasets.core.hashing import Hasher

    directory = "test" if split == "test" else "train"
    wanted = [f"aclImdb/{directory}/{folder}/" for folder in folders]
    chosen = [review for review in _fake_reviews() if review[0].startswith(tuple(wanted))]
    chosen.sort(key=lambda review: Hasher(split).hash_key(review[0]))
    return [(text, label) for _, text, label in chosen]


def test_load_builds_imdb_reviews_from_a_local_archive_in_tfds_order(tmp_path, monkeypatch):
    monkeypatch.setenv(imdb.ENV_VAR, str(_fake_archive(tmp_path / "repacked.tar.gz")))
    data_dir = str(tmp_path / "tensorflow_datasets")
    train, info = tfds.load(
        name="imdb_reviews", split="train", with_info=True, as_supervised=True, data_dir=data_dir
    )
    assert [(t.numpy(), int(y)) for t, y in train] == _tfds_order("train", ("neg", "pos"))
    assert info.features["label"].names == ["neg", "pos"]
    assert {name: split.num_examples for name, split in info.splits.items()} == {
        "train": 6,
        "test": 6,
        "unsupervised": 3,
    }
    monkeypatch.delenv(imdb.ENV_VAR)  # prepared once: the archive is no longer needed
    unsupervised = tfds.load("imdb_reviews", split="unsupervised", data_dir=data_dir)
    got = [(x["text"].numpy(), int(x["label"])) for x in unsupervised]
    assert got == _tfds_order("unsupervised", ("unsup",))


def test_load_refuses_other_names_and_keywords():
    with pytest.raises(AttentionLabError, match="loads only the chapter's 'imdb_reviews'"):
        tfds.load("mnist")
    with pytest.raises(AttentionLabError, match="does not take as_numpy; it takes split"):
        tfds.load("imdb_reviews", as_numpy=True)


def test_load_finds_the_archive_where_tfds_looks_for_a_manual_download(tmp_path, monkeypatch):
    monkeypatch.delenv(imdb.ENV_VAR, raising=False)
    data_dir = tmp_path / "tensorflow_datasets"
    manual = imdb.tfds_manual_archive(data_dir)
    assert manual == data_dir / "downloads" / "manual" / "aclImdb_v1.tar.gz"
    manual.parent.mkdir(parents=True)
    _fake_archive(manual)
    test = tfds.load("imdb_reviews", split="test", as_supervised=True, data_dir=str(data_dir))
    assert [(t.numpy(), int(y)) for t, y in test] == _tfds_order("test", ("neg", "pos"))


def test_load_offline_without_an_archive_says_where_to_put_one(tmp_path, monkeypatch):
    monkeypatch.delenv(imdb.ENV_VAR, raising=False)
    monkeypatch.setattr(imdb, "online", lambda: False)
    with pytest.raises(AttentionLabError, match="ATTENTION_LAB_IMDB=PATH or copy it to .*manual"):
        tfds.load("imdb_reviews", split="train", data_dir=str(tmp_path))


def test_models_offline_hub_ids_say_how_to_pass_a_folder():
    with pytest.raises(AttentionLabError, match="cannot get 'attention-lab/no-such-model'"):
        TFBertForSequenceClassification.from_pretrained("attention-lab/no-such-model")
