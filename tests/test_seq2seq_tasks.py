"""The seeded synthetic seq2seq tasks and their character vocabularies."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from attention_lab.data.char_vocabulary import END, PAD, START, CharVocabulary
from attention_lab.errors import AttentionLabError
from attention_lab.tasks import DATES, REVERSE, get_task
from attention_lab.tasks.dates import FORMATS, ordinal


def test_dates_are_seeded_valid_and_within_the_model_limits():
    pairs = DATES.examples(3_000, seed=7)
    assert pairs == DATES.examples(3_000, seed=7)
    assert pairs != DATES.examples(3_000, seed=8)
    vocab = DATES.source_vocab
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)  # raises if the target is not ISO
        assert datetime.date(1950, 1, 1) <= date <= datetime.date(2049, 12, 31)
        vocab.encode(source, DATES.max_source_len)  # raises if too long or out of vocabulary
    assert len({source for source, _ in pairs}) > 2_900  # varied inputs


def test_every_date_format_round_trips_to_the_same_iso_date():
    date = datetime.date(2021, 3, 3)
    sources = [fmt(date) for fmt in FORMATS]
    assert "Wednesday, 3rd of March 2021" in sources
    assert "03/03/21" in sources
    assert "march 3 2021" in sources
    assert len(set(sources)) == len(FORMATS)
    assert [ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"
    ]  # fmt: skip


def test_reverse_lengths_cover_5_to_60():
    pairs = REVERSE.examples(2_000, seed=0)
    lengths = [len(source) for source, _ in pairs]
    assert min(lengths) == 5 and max(lengths) == 60
    assert all(target == source[::-1] for source, target in pairs)


def test_split_keeps_held_out_sources_unseen():
    train, test = DATES.split(5_000, 500, seed=3)
    assert len(train) == 5_000 and len(test) == 500
    assert not {s for s, _ in train} & {s for s, _ in test}


def test_teacher_forcing_arrays_shift_the_target_by_one():
    arrays = DATES.arrays([("3 March 2021", "2021-03-03")])
    vocab = DATES.target_vocab
    assert arrays["source"].shape == (1, DATES.max_source_len)
    assert arrays["decoder_input"].shape == arrays["labels"].shape == (1, 11)
    assert arrays["decoder_input"][0, 0] == START
    assert arrays["labels"][0, -1] == END
    np.testing.assert_array_equal(arrays["decoder_input"][0, 1:], arrays["labels"][0, :-1])
    assert vocab.decode(arrays["labels"][0]) == "2021-03-03"
    assert (arrays["source"][0, len("3 March 2021") :] == PAD).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty or only whitespace"),
        ("   ", "empty or only whitespace"),
        ("3 März 2021", "outside the model's vocabulary: 'ä'"),
        ("3" * 41, "has 41 characters; this model reads at most 40"),
    ],
)
def test_bad_inputs_raise_clear_errors(text, message):
    with pytest.raises(AttentionLabError, match=message):
        DATES.source_vocab.encode(text, DATES.max_source_len)


def test_vocabulary_decode_stops_at_the_end_token():
    vocab = CharVocabulary("abc")
    assert vocab.size == 6
    assert vocab.decode([3, 4, END, 5, 5]) == "ab"
    assert vocab.decode([START, 5, PAD]) == "c"


def test_unknown_task_lists_the_choices():
    with pytest.raises(AttentionLabError, match="choose one of dates, reverse"):
        get_task("copy")
