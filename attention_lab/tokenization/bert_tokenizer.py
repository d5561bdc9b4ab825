"""``BertTokenizer``: text → ``input_ids``, ``token_type_ids``, ``attention_mask``.

Chapter section 4: ``encode_plus(text, text_pair, max_length, pad_to_max_length,
return_attention_mask, return_token_type_ids)``. One text becomes ``[CLS] A [SEP]`` with token
types 0; a pair becomes ``[CLS] A [SEP] B [SEP]`` with types 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``; the attention mask is 1 on tokens and 0 on padding. The results are token for token
those of Hugging Face's ``BertTokenizerFast`` (see ``tests/test_tokenization*.py``).

Truncation to ``max_length`` (which counts the special tokens):

- ``"longest_first"`` (or ``True``): drop tokens from the end of the longer text, one at a
  time; for one text it keeps the head, as ``"first"`` does;
- ``"only_first"`` / ``"only_second"``: drop from the end of that text only;
- ``"last"``: keep the last tokens of a single text (the chapter's exercise);
- ``"head+tail"``: keep the first ``head_tokens`` and the last tokens of a single text, the best
  strategy for long IMDb reviews in Sun et al. (2019), "How to Fine-Tune BERT for Text
  Classification" (they keep 128 + 382 of 510; the default head is a quarter of the room).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from itertools import chain

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.tokenization.basic import BasicTokenizer
from attention_lab.tokenization.vocab import (
    SPECIAL_TOKENS,
    check_special_tokens,
    find_tokenizer_files,
    load_vocab,
)
from attention_lab.tokenization.wordpiece import WordPiece

PAIR_STRATEGIES = ("longest_first", "only_first", "only_second")
SINGLE_STRATEGIES = ("first", "last", "head+tail")
PADDINGS = ("do_not_pad", "longest", "max_length")

# The reference decoder's clean-up, applied to each token with the space before it.
_DECODE_CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def _check_text(text, name: str) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, bytes | bytearray):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise AttentionLabError(
                f"{name} is not valid UTF-8 (byte {err.start}: {bytes(text)[err.start]:#04x}); "
                "decode it with the right encoding first, or pass a str"
            ) from None
    if text is None:
        raise AttentionLabError(
            f"{name} is None; pass a string (an empty string encodes to [CLS] [SEP])"
        )
    raise AttentionLabError(f"{name} should be a str or UTF-8 bytes, not {type(text).__name__}")


def _strategy(truncation, pair: bool) -> str | None:
    """The truncation strategy's name, or ``None`` for no truncation."""
    if truncation is True:
        return "longest_first"
    if truncation is False or truncation is None or truncation == "do_not_truncate":
        return None
    allowed = PAIR_STRATEGIES + ("first",) if pair else PAIR_STRATEGIES + SINGLE_STRATEGIES
    if truncation not in allowed:
        raise AttentionLabError(
            f"unknown truncation {truncation!r}{' for a pair of texts' if pair else ''}; choose "
            f"one of {', '.join(allowed)} (or True / False)"
        )
    return "longest_first" if truncation == "first" else truncation


def _padding(padding) -> str:
    if padding is True:
        return "longest"
    if padding is False or padding is None:
        return "do_not_pad"
    if padding not in PADDINGS:
        raise AttentionLabError(
            f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)} (or True / False)"
        )
    return padding


def truncate_single(ids: list[int], room: int, strategy: str, head_tokens: int | None):
    """At most ``room`` of ``ids``: the head, the tail, or ``head_tokens`` + the tail."""
    if len(ids) <= room:
        return ids
    if strategy == "only_second" and room:  # as the reference: refused only when it must cut
        raise AttentionLabError(
            "truncation 'only_second' needs a text_pair to cut; use 'only_first' or 'first'"
        )
    if strategy == "last":
        return ids[len(ids) - room :] if room else []
    if strategy == "head+tail":
        head = room // 4 if head_tokens is None else head_tokens
        return ids[:head] + ids[len(ids) - (room - head) :]
    return ids[:room]


def truncate_pair(a: list[int], b: list[int], room: int, strategy: str):
    """``a`` and ``b`` cut to ``room`` tokens in all, by ``strategy`` (the reference's rules)."""
    excess = len(a) + len(b) - room
    if excess <= 0:
        return a, b
    if room == 0:  # only the special tokens fit, whatever the strategy
        return [], []
    if strategy == "longest_first":
        # The shorter text stays whole if it fills at most half the room; otherwise each text
        # keeps half (the longer one the odd token; the first counts as shorter on a tie).
        short = min(len(a), len(b))
        keep_short, keep_long = short, room - short
        if short > room - short:
            keep_short = room // 2
            keep_long = keep_short + room % 2
        keep_a, keep_b = (keep_short, keep_long) if len(a) <= len(b) else (keep_long, keep_short)
        return a[:keep_a], b[:keep_b]
    index = 0 if strategy == "only_first" else 1
    target = (a, b)[index]
    if len(target) <= excess:
        raise AttentionLabError(
            f"truncation {strategy!r} cannot fit max_length: the {('first', 'second')[index]} "
            f"text has {len(target)} tokens but {excess} must go; raise max_length or use "
            "'longest_first'"
        )
    if index == 0:
        return a[: len(a) - excess], b
    return a, b[: len(b) - excess]


class BertTokenizer:
    """BERT's WordPiece tokenizer and input encoder over a ``vocab.txt``.

    >>> tok = BertTokenizer.from_pretrained("../shared/data/bert-base-cased")
    >>> tok.tokenize("Don't be lured")
    ['Don', "'", 't', 'be', 'lure', '##d']
    """

    def __init__(
        self,
        tokens: Sequence[str],
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        max_input_chars_per_word: int = 100,
        clean_up_tokenization_spaces: bool = True,
    ):
        self.ids_to_tokens = check_special_tokens(list(tokens), "the vocabulary")
        self.vocab = {token: index for index, token in enumerate(self.ids_to_tokens)}
        self.do_lower_case = do_lower_case
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.basic = BasicTokenizer(do_lower_case, strip_accents, tokenize_chinese_chars)
        self.wordpiece = WordPiece(self.vocab, max_input_chars_per_word=max_input_chars_per_word)
        self.unk_token_id = self.vocab["[UNK]"]
        self.pad_token_id = self.vocab["[PAD]"]
        self.cls_token_id = self.vocab["[CLS]"]
        self.sep_token_id = self.vocab["[SEP]"]
        self.mask_token_id = self.vocab.get("[MASK]")
        # Special tokens written in the text stay whole, as in the reference.
        specials = [t for t in SPECIAL_TOKENS if t in self.vocab]
        self.all_special_ids = {self.vocab[t] for t in specials}
        self._special = re.compile("(" + "|".join(map(re.escape, specials)) + ")")

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, do_lower_case: bool | None = None
    ) -> BertTokenizer:
        """From a model directory (``vocab.txt`` + ``tokenizer_config.json``) or a vocab file.

        ``do_lower_case=None`` takes the directory's setting, else lower-cases (BERT's default).
        """
        files = find_tokenizer_files(path)
        lower = files.do_lower_case if do_lower_case is None else do_lower_case
        return cls(
            load_vocab(files.vocab_file),
            do_lower_case=True if lower is None else lower,
            strip_accents=files.strip_accents,
            tokenize_chinese_chars=(
                True if files.tokenize_chinese_chars is None else files.tokenize_chinese_chars
            ),
        )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        case = "uncased" if self.do_lower_case else "cased"
        return f"BertTokenizer(vocab_size={self.vocab_size}, {case})"

    # Text → tokens and ids ------------------------------------------------------------------

    def _pieces(self, text: str) -> list[int]:
        """WordPiece ids of ``text``, without special tokens around it."""
        if "[" in text:
            ids = []
            for i, part in enumerate(self._special.split(text)):
                if i % 2:
                    ids.append(self.vocab[part])
                elif part:
                    ids.extend(self._pieces_plain(part))
            return ids
        return self._pieces_plain(text)

    def _pieces_plain(self, text: str) -> list[int]:
        words = self.basic.tokenize(text)
        try:
            # Hot path: every word already in the WordPiece cache, looked up without a Python loop.
            return list(chain.from_iterable(map(self.wordpiece.cache.__getitem__, words)))
        except KeyError:
            return list(chain.from_iterable(map(self.wordpiece.ids, words)))

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of ``text``: ``"lured"`` → ``["lure", "##d"]``."""
        return self.convert_ids_to_tokens(self._pieces(_check_text(text, "text")))

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]):
        """Id of a token, or ids of a list of tokens; unknown tokens map to ``[UNK]``."""
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]):
        """Token of an id, or tokens of a list of ids."""
        if isinstance(ids, int | np.integer):
            return self._token(ids)
        return [self._token(i) for i in ids]

    def _token(self, index) -> str:
        index = int(index)
        if not 0 <= index < len(self.ids_to_tokens):
            raise AttentionLabError(
                f"token id {index} is outside the vocabulary (0 … {len(self.ids_to_tokens) - 1})"
            )
        return self.ids_to_tokens[index]

    def decode(
        self,
        ids: Sequence[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str:
        """Ids → text: tokens joined by spaces, ``##`` continuations glued to the one before.

        With clean-up (the default), a space before ``.``, ``,``, ``?`` and ``!`` goes too.
        """
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        tokens = [
            self._token(i)
            for i in ids
            if not (skip_special_tokens and int(i) in self.all_special_ids)
        ]
        parts = []
        for position, token in enumerate(tokens):
            if position:
                token = token[2:] if token.startswith("##") else " " + token
            if clean_up_tokenization_spaces:
                for before, after in _DECODE_CLEANUP:
                    token = token.replace(before, after)
            parts.append(token)
        return "".join(parts)

    # Encoding ---------------------------------------------------------------------------------

    def _room(self, max_length: int, pair: bool) -> int:
        specials = 3 if pair else 2
        if isinstance(max_length, bool) or not isinstance(max_length, int | np.integer):
            raise AttentionLabError(f"max_length should be an integer, not {max_length!r}")
        if max_length < specials:
            raise AttentionLabError(
                f"max_length={max_length} leaves no room for the {specials} special tokens of "
                f"{'[CLS] A [SEP] B [SEP]' if pair else '[CLS] text [SEP]'}; use at least "
                f"{specials}"
            )
        return int(max_length) - specials

    def _encode_ids(self, text, text_pair, max_length, strategy, head_tokens):
        """``(input_ids, token_type_ids)`` of one example, truncated, not padded."""
        a = self._pieces(_check_text(text, "text"))
        if text_pair is None:
            if strategy is not None and max_length is not None:
                a = truncate_single(a, self._room(max_length, False), strategy, head_tokens)
            return [self.cls_token_id, *a, self.sep_token_id], [0] * (len(a) + 2)
        b = self._pieces(_check_text(text_pair, "text_pair"))
        if strategy is not None and max_length is not None:
            a, b = truncate_pair(a, b, self._room(max_length, True), strategy)
        ids = [self.cls_token_id, *a, self.sep_token_id, *b, self.sep_token_id]
        return ids, [0] * (len(a) + 2) + [1] * (len(b) + 1)

    def _options(self, pair: bool, max_length, truncation, padding, head_tokens):
        strategy = _strategy(truncation, pair)
        padding = _padding(padding)
        if max_length is not None:
            self._room(max_length, pair)
        elif padding == "max_length":
            raise AttentionLabError("padding='max_length' needs max_length; pass max_length=N")
        if head_tokens is not None:
            if strategy != "head+tail" or max_length is None:
                raise AttentionLabError(
                    "head_tokens only applies to truncation='head+tail' with a max_length"
                )
            room = self._room(max_length, pair)
            if not 0 <= head_tokens <= room:
                raise AttentionLabError(
                    f"head_tokens={head_tokens} does not fit the {room} tokens max_length="
                    f"{max_length} leaves for text; choose 0 … {room}"
                )
        return strategy, padding

    def encode(
        self,
        text: str,
        text_pair: str | None = None,
        max_length: int | None = None,
        truncation: bool | str = True,
        padding: bool | str = False,
        head_tokens: int | None = None,
    ) -> dict[str, list[int]]:
        """``input_ids``, ``token_type_ids`` and ``attention_mask`` of one text or pair.

        As ``encode_plus``: truncation (``True`` = ``"longest_first"``) applies when
        ``max_length`` is given; ``padding="max_length"`` pads with ``[PAD]``, type 0, mask 0;
        an empty ``text_pair`` counts as none. (``encode_batch`` with ``text_pairs`` encodes an
        empty second text as ``[CLS] A [SEP] [SEP]``, as the reference's batch call does.)
        """
        if text_pair == "":  # as encode_plus: an empty second text means no pair
            text_pair = None
        strategy, padding = self._options(
            text_pair is not None, max_length, truncation, padding, head_tokens
        )
        ids, types = self._encode_ids(text, text_pair, max_length, strategy, head_tokens)
        mask = [1] * len(ids)
        if padding == "max_length" and len(ids) < max_length:
            extra = max_length - len(ids)
            ids = ids + [self.pad_token_id] * extra
            types = types + [0] * extra
            mask = mask + [0] * extra
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}

    def encode_batch(
        self,
        texts: Sequence[str],
        max_length: int | None = None,
        truncation: bool | str = True,
        padding: bool | str = "longest",
        head_tokens: int | None = None,
        text_pairs: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Int32 arrays ``(batch, length)``, padded to the longest row or to ``max_length``.

        Each row is what :meth:`encode` gives (``text_pairs``: one second text per text).
        """
        if isinstance(texts, str | bytes) or texts is None:
            raise AttentionLabError("encode_batch takes a list of texts; use encode for one text")
        texts = list(texts)
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise AttentionLabError(
                f"{len(texts)} texts but {len(text_pairs)} text_pairs; pass one pair per text"
            )
        pairs = [None] * len(texts) if text_pairs is None else list(text_pairs)
        strategy, padding = self._options(
            text_pairs is not None, max_length, truncation, padding, head_tokens
        )
        rows = [
            self._encode_ids(t, p, max_length, strategy, head_tokens)
            for t, p in zip(texts, pairs, strict=True)
        ]
        longest = max((len(ids) for ids, _ in rows), default=0)
        width = max_length if padding == "max_length" else longest
        if padding == "do_not_pad" and any(len(ids) != longest for ids, _ in rows):
            raise AttentionLabError(
                "rows of different lengths cannot form an array without padding; pass "
                "padding='longest' or 'max_length'"
            )
        if longest > width:
            raise AttentionLabError(
                f"a text encodes to {longest} tokens, more than max_length={max_length}, and "
                "truncation is off; turn truncation on or raise max_length"
            )
        input_ids = np.full((len(rows), width), self.pad_token_id, np.int32)
        token_type_ids = np.zeros((len(rows), width), np.int32)
        attention_mask = np.zeros((len(rows), width), np.int32)
        for row, (ids, types) in enumerate(rows):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
            if text_pairs is not None:
                token_type_ids[row, : len(types)] = types
        return {
            "input_ids": input_ids,
            "token_type_ids": token_type_ids,
            "attention_mask": attention_mask,
        }

    def to_tf_dataset(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | np.ndarray | None = None,
        max_length: int = 150,
        batch_size: int = 16,
        truncation: bool | str = True,
        head_tokens: int | None = None,
    ):
        """A batched ``tf.data.Dataset`` of feature dicts (with labels: ``(features, label)``).

        Every row is padded to ``max_length``, as the chapter's ``bert_encoder`` does.
        """
        import tensorflow as tf

        if labels is not None and len(labels) != len(texts):
            raise AttentionLabError(
                f"{len(texts)} texts but {len(labels)} labels; pass one label per text"
            )
        features = self.encode_batch(
            texts,
            max_length=max_length,
            truncation=truncation,
            padding="max_length",
            head_tokens=head_tokens,
        )
        elements = features if labels is None else (features, np.asarray(labels))
        return tf.data.Dataset.from_tensor_slices(elements).batch(batch_size)
