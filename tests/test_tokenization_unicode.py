"""Every Unicode code point goes through our basic tokenizer as through the reference's.

Each code point ``c`` is written as the word ``a{c}b``: cleaning may drop ``c``, accent
stripping may drop or decompose it, lower-casing may change it, and punctuation or CJK
characters split the word in three. The reference is the ``tokenizers`` library's BERT
normaliser and pre-tokenizer (what ``BertTokenizerFast`` runs); the words must be equal.
Planes 4 to 13 are skipped (nothing is assigned there), and so are the private-use planes 15
and 16 (``tests/test_tokenization.py`` checks that private-use characters are removed).
"""

from __future__ import annotations

import pytest

from attention_lab.tokenization.basic import BasicTokenizer

tokenizers = pytest.importorskip("tokenizers")

CHUNK = 0x10000
PLANES = [0, 1, 2, 3, 14]


def _first_difference(got: list[str], want: list[str]) -> str:
    for index, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"word {index}: ours {a!r} ({[hex(ord(c)) for c in a]}), reference {b!r}"
    return f"ours has {len(got)} words, the reference {len(want)}"


@pytest.mark.slow
@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_every_code_point_is_classified_as_by_the_reference(lowercase):
    normalizer = tokenizers.normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    ours = BasicTokenizer(lowercase=lowercase)
    checked = 0
    for start in (plane * CHUNK for plane in PLANES):
        codes = [c for c in range(start, start + CHUNK) if not 0xD800 <= c <= 0xDFFF]
        text = " ".join(f"a{chr(c)}b" for c in codes)
        want = [word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))]
        got = ours.tokenize(text)
        assert got == want, f"U+{start:04X} block: {_first_difference(got, want)}"
        checked += len(codes)
    assert checked == len(PLANES) * CHUNK - 0x800
