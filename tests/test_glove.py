"""The GloVe parser on the real 400,000-line file and on malformed files; the embedding matrix."""

from __future__ import annotations

import gzip
import json
import zipfile

import numpy as np
import pytest
from glove_imdb_data import glove_vectors, train_vocabulary

from attention_lab.cli.main import main as cli_main
from attention_lab.data.glove import build_embedding_matrix, load_glove
from attention_lab.data.text_encoder import TokenEncoder
from attention_lab.errors import AttentionLabError


@pytest.fixture
def glove(glove_file):
    return glove_vectors(glove_file)


def _reference_rows(glove_file, numbers):
    """Lines ``numbers`` (0-based) parsed the slow, obvious way."""
    with gzip.open(glove_file, "rt", encoding="utf-8") as handle:
        lines = [line for number, line in enumerate(handle) if number in numbers]
    return {line.split(" ")[0]: np.array(line.split()[1:], dtype=np.float32) for line in lines}


def test_real_file(glove, glove_file):
    assert len(glove) == 400000 and glove.dim == 50 and glove.skipped_lines == []
    assert glove.vectors.dtype == np.float32 and glove.vectors.shape == (400000, 50)
    assert glove.words[0] == "the" and len(set(glove.words)) == 400000
    reference = _reference_rows(glove_file, {0, 1234, 98765, 399999})
    assert len(reference) == 4
    for word, vector in reference.items():
        np.testing.assert_array_equal(glove.get(word), vector)  # bit-identical float32
    assert glove.get("zzzqxj-not-a-word") is None


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_malformed_lines_are_skipped_and_named(tmp_path, caplog):
    lines = [f"w{i} " + " ".join(f"{i}.{j}" for j in range(4)) for i in range(8)]
    lines[2] = "short 1.0 2.0"  # wrong dimension
    lines[5] = "bad 1.0 x 2.0 3.0"  # not a number
    lines[6] = "two words 1.0 2.0 3.0 4.0"  # a space inside the word: 5 values
    glove = load_glove(_write(tmp_path / "tiny.4d.txt", lines))
    assert glove.skipped_lines == [3, 6, 7]
    assert [str(line) for line in glove.skipped] == [
        "line 3 ('short': 2 values, not 4)",
        "line 6 ('bad': a value that is not a number)",
        "line 7 ('two': 5 values, not 4)",
    ]
    [warning] = caplog.messages
    assert "skipped 3 malformed line(s): line 3 ('short': 2 values, not 4), line 6" in warning
    assert glove.words == ["w0", "w1", "w3", "w4", "w7"]
    np.testing.assert_array_equal(glove.get("w7"), np.array([7.0, 7.1, 7.2, 7.3], np.float32))
    # No dimension in the name: the most common line length is used.
    assert load_glove(_write(tmp_path / "vectors.txt", lines)).dim == 4


@pytest.mark.parametrize("value", ["nan", "-inf", "Infinity", "3e39"])
def test_a_non_finite_value_is_an_error_that_names_its_line(tmp_path, value):
    lines = [f"w{i} 0.1 0.2 0.3" for i in range(6)]
    lines[4] = f"broken 0.1 {value} 0.3"
    with pytest.raises(AttentionLabError, match=r"line 5 \('broken'\) holds a NaN or infinite"):
        load_glove(_write(tmp_path / "v.3d.txt", lines))


def test_wrong_dimension_is_an_error_that_names_it(tmp_path):
    path = _write(tmp_path / "glove.6B.50d.txt", [f"w{i} 0.1 0.2 0.3" for i in range(5)])
    with pytest.raises(AttentionLabError, match="holds 3-d vectors.*not 50-d"):
        load_glove(path)
    with pytest.raises(AttentionLabError, match="not 100-d"):
        load_glove(_write(tmp_path / "v.txt", ["a 1 2 3"]), dim=100)
    with pytest.raises(AttentionLabError, match="empty"):
        load_glove(_write(tmp_path / "empty.txt", []))
    with pytest.raises(AttentionLabError, match="not found.*glove.6B.zip"):
        load_glove(tmp_path / "missing.txt")
    (tmp_path / "broken.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(AttentionLabError, match="cannot read"):
        load_glove(tmp_path / "broken.txt.gz")


def test_gzip_and_zip_members(tmp_path):
    small = [f"w{i} " + " ".join(["0.5"] * 3) for i in range(4)]
    large = [f"w{i} " + " ".join(["0.25"] * 6) for i in range(4)]
    gz = tmp_path / "glove.6B.3d.txt.gz"
    gz.write_bytes(gzip.compress("\n".join(small).encode()))
    assert load_glove(gz).vectors.shape == (4, 3)
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("glove.6B.3d.txt", "\n".join(small))
        handle.writestr("glove.6B.6d.txt", "\n".join(large))
    picked = load_glove(archive, dim=6)
    assert picked.dim == 6 and float(picked.vectors[0, 0]) == 0.25
    with pytest.raises(AttentionLabError, match="choose one with dim"):
        load_glove(archive)
    with pytest.raises(AttentionLabError, match="no 50-d member"):
        load_glove(archive, dim=50)


@pytest.mark.slow
def test_chapter_embedding_matrix(glove, imdb_archive):
    vocabulary, _ = train_vocabulary(imdb_archive)
    encoder = TokenEncoder(vocabulary, lowercase=True)
    embedding = build_embedding_matrix(encoder, glove)
    # The chapter: 14,553 unknown tokens, about 15% of its 93,929-token list.
    assert embedding.matrix.shape == (93931, 50)
    assert embedding.unknown_tokens == 14553 and embedding.token_count == 93929
    assert round(embedding.coverage, 3) == 0.845
    np.testing.assert_array_equal(embedding.matrix[encoder.token_id("movie")], glove.get("movie"))
    assert not embedding.matrix[0].any() and not embedding.matrix[encoder.oov_id].any()
    unknown = embedding.unknown_words[0]
    assert not embedding.matrix[encoder.token_id(unknown)].any()
    # Faithful mode: duplicates keep one row; the other ids of "the" are never used.
    rows_used = {encoder.token_id(token) for token in encoder.tokens}
    assert len(rows_used) == len(set(encoder.tokens)) == 74891


def test_glove_stats_cli(tmp_path, capsys):
    reviews = {"train/pos": ["A great movie!", "Great, GREAT acting"], "train/neg": ["Bad movie"]}
    reviews["test/pos"], reviews["test/neg"] = ["great"], ["bad"]
    for folder, texts in reviews.items():
        (tmp_path / "aclImdb" / folder).mkdir(parents=True)
        for number, text in enumerate(texts):
            (tmp_path / "aclImdb" / folder / f"{number}_5.txt").write_text(text)
    path = _write(tmp_path / "mini.3d.txt", [f"{w} 0.1 0.2 0.3" for w in ("great", "movie")])
    args = ["glove", "stats", "--glove", str(path), "--data", str(tmp_path), "--json"]
    assert cli_main(args) == 0
    report = json.loads(capsys.readouterr().out)
    # Token list (lower-cased, duplicates kept): a bad great great acting great movie
    assert report["vocab_size"] == 9 and report["embedding_shape"] == [9, 3]
    assert report["unknown_tokens"] == 3 and report["unknown_distinct"] == 3
    assert report["coverage"] == round(4 / 7, 4)
    assert cli_main(["glove", "stats", "--glove", str(tmp_path / "none.txt")]) == 2
    assert "GloVe file not found" in capsys.readouterr().err
