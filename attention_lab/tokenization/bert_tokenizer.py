"""``BertTokenizer``: text → ``input_ids``, ``token_type_ids``, ``attention_mask``, and more.

Chapter section 4: ``encode_plus(text, text_pair, max_length, pad_to_max_length,
return_attention_mask, return_token_type_ids)``. One text becomes ``[CLS] A [SEP]`` with token
types 0; a pair becomes ``[CLS] A [SEP] B [SEP]`` with types 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``; the attention mask is 1 on tokens and 0 on padding. Today's Hugging Face call is
the tokenizer itself, ``tokenizer(texts, pairs, padding=..., truncation=..., max_length=...,
return_tensors=...)``, and that is what :meth:`BertTokenizer.__call__` takes and returns, output
for output those of ``BertTokenizerFast`` (``tests/test_tokenization*.py``, and every IMDb
review in ``docs/results.md``): overflow windows with ``stride``, offsets, special-tokens mask,
word and sequence ids, padding and truncation on either side.

A text goes through four steps, in the order of Hugging Face's ``tokenizers``:

1. special tokens written in the text (``[SEP]``, added special tokens) and ``never_split``
   words are cut out whole, from the raw text;
2. the rest is normalised (:mod:`.basic`: cleaned, accents stripped, lower-cased);
3. added tokens (:meth:`~BertTokenizer.add_tokens`) are cut out of the normalised text;
4. the rest is split into words (:mod:`.basic`) and each word into WordPieces (:mod:`.wordpiece`).

Truncation strategies and overflow windows: :mod:`.truncation`. ``encode`` and
``encode_batch`` are the library's own short calls (a dict of lists, int32 arrays).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import chain

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.tokenization.basic import BasicTokenizer, alternation, split_on
from attention_lab.tokenization.encoding import (
    PAD_VALUES,
    BatchEncoding,
    Pieces,
    bert_template,
    collate,
    pad_values,
    padding_strategy,
    target_width,
    to_tensors,
)
from attention_lab.tokenization.truncation import (
    check_side,
    head_and_tail,
    keep_lengths,
    resolve_strategy,
    windows,
)
from attention_lab.tokenization.vocab import (
    SPECIAL_TOKENS_MAP,
    check_special_tokens,
    find_tokenizer_files,
    load_vocab,
)
from attention_lab.tokenization.wordpiece import WordPiece

FEATURES = ("input_ids", "token_type_ids", "attention_mask")

# transformers' ``clean_up_tokenization``, applied to the whole decoded text on request.
_CLEAN_UP_TOKENIZATION = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
# What the WordPiece decoder does to each token with the space before it (tokenizers'
# ``decoders.WordPiece(cleanup=True)``, which BERT's tokenizer always applies): the same
# replacements, and " do not" → " don't".
_DECODER_CLEANUP = (
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


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise AttentionLabError(f"{name} should be an integer, not {value!r}")
    if value < 0:
        raise AttentionLabError(f"{name}={value} should be at least 0")
    return int(value)


def _batch(text, text_pair, split_into_words: bool) -> tuple[list, list, bool]:
    """``(texts, pairs, batched)``: the call's input as a batch (``pairs[i]`` ``None``: no
    pair); a list is a batch, or with ``split_into_words`` a list of lists."""
    batched = isinstance(text, list | tuple)
    if split_into_words:
        batched = batched and bool(text) and isinstance(text[0], list | tuple)
    if not batched:
        return [text], [text_pair if text_pair else None], False  # "" or []: no pair
    texts = list(text)
    if text_pair is None:
        return texts, [None] * len(texts), True
    if isinstance(text_pair, str | bytes) or len(text_pair) != len(texts):
        raise AttentionLabError(
            f"{len(texts)} texts need {len(texts)} text pairs, one each; got {text_pair!r:.60}"
        )
    return texts, list(text_pair), True


@dataclass(frozen=True)
class _Plan:
    """A call's options, checked: what to cut, how to pad."""

    add_special_tokens: bool
    split_into_words: bool
    strategy: str | None  # None: no cut
    max_length: int | None
    room: int | None  # max_length less the special tokens
    stride: int
    head_tokens: int | None
    overflow: bool
    padding: str
    pad_to_multiple_of: int | None
    side: str  # of the padding


class BertTokenizer:
    """BERT's WordPiece tokenizer and input encoder over a ``vocab.txt``.

    >>> tok = BertTokenizer.from_pretrained("../shared/data/bert-base-cased")
    >>> tok.tokenize("Don't be lured")
    ['Don', "'", 't', 'be', 'lure', '##d']
    >>> tok("Don't be lured", return_offsets_mapping=True)["offset_mapping"]
    [(0, 0), (0, 3), (3, 4), (4, 5), (6, 8), (9, 13), (13, 14), (0, 0)]

    ``model_max_length`` is the ``max_length`` that ``truncation=True`` cuts to when none is
    given (``None``: no limit); ``padding_side`` and ``truncation_side`` (``"right"`` or
    ``"left"``) say where padding goes and which end a cut removes.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        max_input_chars_per_word: int = 100,
        clean_up_tokenization_spaces: bool = False,
        never_split: Sequence[str] | None = None,
        model_max_length: int | None = None,
        padding_side: str = "right",
        truncation_side: str = "right",
    ):
        self.ids_to_tokens = check_special_tokens(list(tokens), "the vocabulary")
        self.vocab = {token: index for index, token in enumerate(self.ids_to_tokens)}
        self.do_lower_case = do_lower_case
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.model_max_length = model_max_length
        self.padding_side = check_side(padding_side, "padding_side")
        self.truncation_side = check_side(truncation_side, "truncation_side")
        self.basic = BasicTokenizer(
            do_lower_case, strip_accents, tokenize_chinese_chars, never_split
        )
        self.wordpiece = WordPiece(
            self.vocab,
            unk_token=SPECIAL_TOKENS_MAP["unk_token"],
            max_input_chars_per_word=max_input_chars_per_word,
        )
        self.unk_token_id = self.vocab[SPECIAL_TOKENS_MAP["unk_token"]]
        self.pad_token_id = self.vocab[SPECIAL_TOKENS_MAP["pad_token"]]
        self.cls_token_id = self.vocab[SPECIAL_TOKENS_MAP["cls_token"]]
        self.sep_token_id = self.vocab[SPECIAL_TOKENS_MAP["sep_token"]]
        self.mask_token_id = self.vocab.get(SPECIAL_TOKENS_MAP["mask_token"])
        # Roles whose token the vocabulary has ([MASK] may be missing from a trained one).
        self.special_tokens_map = {
            role: token for role, token in SPECIAL_TOKENS_MAP.items() if token in self.vocab
        }
        self.additional_special_tokens: list[str] = []
        self.added_tokens: dict[str, int] = {}  # added (not special) token → id
        self._refresh_added()

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, do_lower_case: bool | None = None, **settings
    ) -> BertTokenizer:
        """From a model directory (``vocab.txt`` + ``tokenizer_config.json``) or a vocab file.

        ``do_lower_case=None`` takes the directory's setting, else lower-cases (BERT's default);
        so do the other settings (``model_max_length``, ``never_split``, ``padding_side`` …),
        which keyword arguments override.
        """
        files = asdict(find_tokenizer_files(path))
        vocab_file, lower = files.pop("vocab_file"), files.pop("do_lower_case")
        found = {key: value for key, value in files.items() if value is not None}
        lower = lower if do_lower_case is None else do_lower_case
        return cls(
            load_vocab(vocab_file),
            do_lower_case=True if lower is None else lower,
            **{**found, **settings},
        )

    @property
    def vocab_size(self) -> int:
        """Tokens of ``vocab.txt`` (added tokens not counted, as in Hugging Face)."""
        return len(self.wordpiece.vocab)

    def __len__(self) -> int:
        """Tokens with an id, added ones included: the size of the embedding table needed."""
        return len(self.vocab)

    def __repr__(self) -> str:
        case = "uncased" if self.do_lower_case else "cased"
        return f"BertTokenizer(vocab_size={self.vocab_size}, {case})"

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    @property
    def all_special_tokens(self) -> list[str]:
        return [*self.special_tokens_map.values(), *self.additional_special_tokens]

    @property
    def all_special_ids(self) -> list[int]:
        return [self.vocab[token] for token in self.all_special_tokens]

    # Added and special tokens -----------------------------------------------------------------

    def add_tokens(self, new_tokens: str | Sequence[str], special_tokens: bool = False) -> int:
        """Tokens matched whole wherever they occur, before WordPiece; how many were added.

        A token new to the vocabulary gets the next id (``len(tokenizer)`` grows: resize the
        model's embeddings). Added tokens are matched in the normalised text (so, uncased,
        ``"NewWord"`` also matches ``"newword"``); special ones (``special_tokens=True``) in
        the raw text, exactly as written, and ``decode(..., skip_special_tokens=True)`` drops
        them.
        """
        if isinstance(new_tokens, str):
            new_tokens = [new_tokens]
        added = 0
        for token in new_tokens:
            if not isinstance(token, str) or not self.basic.normalize(token).strip():
                raise AttentionLabError(
                    f"cannot add the token {token!r}: a token is a non-empty string"
                )
            known = self.added_tokens if not special_tokens else ()
            if token in self.all_special_tokens or token in known:
                continue
            if token not in self.vocab:
                if self.vocab is self.wordpiece.vocab:  # WordPiece keeps the vocab.txt pieces
                    self.vocab = dict(self.vocab)
                self.vocab[token] = len(self.ids_to_tokens)
                self.ids_to_tokens.append(token)
            if special_tokens:
                self.added_tokens.pop(token, None)
                self.additional_special_tokens.append(token)
            else:
                self.added_tokens[token] = self.vocab[token]
            added += 1
        self._refresh_added()
        return added

    def add_special_tokens(self, special_tokens_dict: dict) -> int:
        """``{"additional_special_tokens": [...]}``: :meth:`add_tokens` with special tokens.

        BERT's own roles (``cls_token`` …) are fixed: the template writes ``[CLS]`` and
        ``[SEP]``, so a new ``cls_token`` is refused rather than silently ignored.
        """
        added = 0
        for key, value in special_tokens_dict.items():
            if key == "additional_special_tokens":
                added += self.add_tokens(value, special_tokens=True)
            elif key in SPECIAL_TOKENS_MAP:
                if value != self.special_tokens_map.get(key):
                    raise AttentionLabError(
                        f"cannot change {key} to {value!r}: BERT's encoding writes "
                        f"{SPECIAL_TOKENS_MAP[key]}; add new tokens as additional_special_tokens"
                    )
            else:
                raise AttentionLabError(
                    f"unknown special token key {key!r}; use additional_special_tokens or one "
                    f"of {', '.join(SPECIAL_TOKENS_MAP)}"
                )
        return added

    def _refresh_added(self) -> None:
        """The patterns of steps 1 and 3 (see the module docstring)."""
        raw = {t: self.vocab[t] for t in self.all_special_tokens}
        never_split = {
            t: self.vocab.get(t, self.unk_token_id) for t in self.basic.never_split if t not in raw
        }
        patterns = [alternation(raw)]
        if never_split:
            patterns.append(alternation(never_split, whole_words=True))
        self._raw = re.compile("|".join(patterns))
        self._raw_ids = {**never_split, **raw}
        self._raw_first = "".join(sorted({token[0] for token in self._raw_ids}))
        # Added tokens as they read after normalisation (uncased: lower-cased, no accents).
        self._added_ids = {self.basic.normalize(t): i for t, i in self.added_tokens.items()}
        self._added = re.compile(alternation(self._added_ids)) if self._added_ids else None

    # Text → pieces ----------------------------------------------------------------------------

    def _pieces(self, text: str, tracked: bool) -> Pieces:
        """WordPiece ids of ``text`` (no special tokens around it); offsets and words if
        ``tracked``."""
        pieces = Pieces.tracked() if tracked else Pieces()
        if any(map(text.__contains__, self._raw_first)):
            for start, part, matched in split_on(self._raw, text):
                if matched:
                    self._add(pieces, self._raw_ids[part], (start, start + len(part)))
                else:
                    self._plain(part, start, pieces)
        else:
            self._plain(text, 0, pieces)
        return pieces

    @staticmethod
    def _add(pieces: Pieces, token_id: int, span: tuple[int, int]) -> None:
        """One whole token that is a word of its own."""
        pieces.ids.append(token_id)
        if pieces.offsets is not None:
            pieces.offsets.append(span)
            pieces.words.append(pieces.n_words)
        pieces.n_words += 1

    def _plain(self, text: str, start: int, pieces: Pieces) -> None:
        """Steps 2 to 4 on ``text``, a part of the input starting at character ``start``."""
        if pieces.offsets is None:
            normalized = self.basic.normalize(text)
            if self._added is None:
                if pieces.ids:
                    pieces.ids.extend(self._ids(normalized))
                else:
                    pieces.ids = self._ids(normalized)
                return
            for _, part, matched in split_on(self._added, normalized):
                if matched:
                    pieces.ids.append(self._added_ids[part])
                else:
                    pieces.ids.extend(self._ids(part))
            return
        normalized, origin = self.basic.normalize_aligned(text)

        def span(begin: int, end: int) -> tuple[int, int]:  # normalised → original characters
            if origin is None:
                return start + begin, start + end
            return start + origin[begin], start + origin[end - 1] + 1

        parts = (
            [(0, normalized, False)] if self._added is None else split_on(self._added, normalized)
        )
        ids, offsets, words = pieces.ids, pieces.offsets, pieces.words
        for offset, part, matched in parts:
            if matched:
                self._add(pieces, self._added_ids[part], span(offset, offset + len(part)))
                continue
            for word_start, word_end in self.basic.split_spans(part):
                at = offset + word_start
                for piece_id, piece_start, piece_end in self.wordpiece.spans(
                    part[word_start:word_end]
                ):
                    ids.append(piece_id)
                    offsets.append(span(at + piece_start, at + piece_end))
                    words.append(pieces.n_words)
                pieces.n_words += 1

    def _ids(self, normalized: str) -> list[int]:
        """WordPiece ids of the words of normalised text."""
        words = self.basic.split(normalized)
        try:
            # Hot path: every word already in the WordPiece cache, looked up without a Python loop.
            return list(chain.from_iterable(map(self.wordpiece.cache.__getitem__, words)))
        except KeyError:
            return list(chain.from_iterable(map(self.wordpiece.ids, words)))

    def _input(self, value, name: str, split_into_words: bool, tracked: bool) -> Pieces:
        """One text (or, ``split_into_words``, one list of words) as pieces."""
        if not split_into_words:
            return self._pieces(_check_text(value, name), tracked)
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise AttentionLabError(
                f"with is_split_into_words=True, {name} should be a list of words, not "
                f"{type(value).__name__}"
            )
        pieces = Pieces.tracked() if tracked else Pieces()
        for position, word in enumerate(value):
            word = _check_text(word, f"word {position} of {name}")
            pieces.extend(self._pieces(word, tracked), position)
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of ``text``: ``"lured"`` → ``["lure", "##d"]``."""
        return self.convert_ids_to_tokens(self._pieces(_check_text(text, "text"), False).ids)

    # Tokens and ids ---------------------------------------------------------------------------

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]):
        """Id of a token, or ids of a list of tokens; unknown tokens map to ``[UNK]``."""
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int], skip_special_tokens: bool = False):
        """Token of an id, or tokens of a list of ids."""
        if isinstance(ids, int | np.integer):
            return self._token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._token(i) for i in ids if int(i) not in skip]

    def _token(self, index) -> str:
        index = int(index)
        if not 0 <= index < len(self.ids_to_tokens):
            raise AttentionLabError(
                f"token id {index} is outside the vocabulary (0 … {len(self.ids_to_tokens) - 1})"
            )
        return self.ids_to_tokens[index]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Tokens joined by spaces, ``##`` pieces glued on, as the WordPiece decoder does.

        The decoder also drops the space before ``.``, ``,``, ``?``, ``!`` and a few
        contractions, token by token: ``don ' t`` stays, ``it 's`` becomes ``it's``.
        """
        parts = []
        for position, token in enumerate(tokens):
            if position:
                token = token[2:] if token.startswith("##") else " " + token
            for before, after in _DECODER_CLEANUP:
                token = token.replace(before, after)
            parts.append(token)
        return "".join(parts)

    def decode(
        self,
        ids: Sequence[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str:
        """Ids → text, as :meth:`convert_tokens_to_string`; with ``clean_up_tokenization_spaces``
        (default: the tokenizer's setting) also transformers' clean-up of the whole text, so
        ``shouldn ' t`` becomes ``shouldn't``."""
        text = self.convert_tokens_to_string(
            self.convert_ids_to_tokens(list(ids), skip_special_tokens=skip_special_tokens)
        )
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            for before, after in _CLEAN_UP_TOKENIZATION:
                text = text.replace(before, after)
        return text

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]`` around ids."""
        ids = [self.cls_token_id, *token_ids_0, self.sep_token_id]
        return ids if token_ids_1 is None else [*ids, *token_ids_1, self.sep_token_id]

    # Encoding ---------------------------------------------------------------------------------

    def __call__(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        head_tokens: int | None = None,
    ) -> BatchEncoding:
        """Encode one text, a batch, or pairs, as Hugging Face's tokenizer call.

        - ``padding``: ``False`` (rows as they are; a batch of unequal rows stays lists),
          ``True``/``"longest"``, ``"max_length"``; ``pad_to_multiple_of`` rounds the length up;
          ``padding_side`` ``"right"``/``"left"`` (default: the tokenizer's).
        - ``truncation``: ``True``/``"longest_first"``, ``"only_first"``, ``"only_second"``,
          and for one text ``"last"`` and ``"head+tail"`` (with ``head_tokens``); which end goes
          is the tokenizer's ``truncation_side``. ``max_length`` alone turns on
          ``"longest_first"``; truncation without ``max_length`` cuts to ``model_max_length``.
        - ``return_overflowing_tokens``: every window of a long text becomes a row (``stride``
          tokens shared by neighbours), with ``overflow_to_sample_mapping``.
        - ``return_offsets_mapping``: each token's ``(start, end)`` in its text, which also makes
          :meth:`BatchEncoding.word_ids` available; ``return_special_tokens_mask``: 1 on the
          tokens the template added; ``return_length``; ``return_tensors="np"`` (int64) or
          ``"tf"`` (int32), else lists.
        - ``is_split_into_words``: each text is a list of words (word ids are their positions).
        """
        texts, pairs, batched = _batch(text, text_pair, is_split_into_words)
        plan = self._plan(
            any(p is not None for p in pairs),
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            overflow=return_overflowing_tokens,
            head_tokens=head_tokens,
        )
        keys = ["input_ids"]
        if return_token_type_ids is not False:
            keys.append("token_type_ids")
        if return_attention_mask is not False:
            keys.append("attention_mask")
        if return_special_tokens_mask:
            keys.append("special_tokens_mask")
        if return_offsets_mapping:
            keys.append("offset_mapping")
        data, rows = self._collated(
            texts, pairs, plan, keys, return_offsets_mapping, return_tensors, return_length
        )
        retrack = None
        if not return_offsets_mapping:  # word_ids() and the like need the slower tracked pass

            def retrack():
                return self._collated(texts, pairs, plan, ["input_ids"], True, None, False)[1]()

        out = BatchEncoding(data, rows, self.ids_to_tokens, retrack)
        if not batched and return_tensors is None and not plan.overflow:
            out = out.first()
        return out

    def _plan(
        self,
        pair: bool,
        padding,
        truncation,
        max_length,
        head_tokens,
        add_special_tokens=True,
        stride=0,
        split_into_words=False,
        pad_to_multiple_of=None,
        padding_side=None,
        overflow=False,
    ) -> _Plan:
        """The call's options checked and resolved, with Hugging Face's rules: ``max_length``
        alone means truncation, and without ``max_length`` truncation and ``"max_length"``
        padding use ``model_max_length``."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        padding = padding_strategy(padding)
        strategy = resolve_strategy(truncation, pair)
        if max_length is None and (padding == "max_length" or strategy is not None):
            max_length = self.model_max_length
            if max_length is None and padding == "max_length":
                raise AttentionLabError(
                    "padding='max_length' needs max_length (this tokenizer has no "
                    "model_max_length); pass max_length=N"
                )
        specials = self.num_special_tokens_to_add(pair) if add_special_tokens else 0
        if max_length is not None:
            max_length = _check_count(max_length, "max_length")
            if max_length < specials:
                raise AttentionLabError(
                    f"max_length={max_length} leaves no room for the {specials} special tokens "
                    f"of {'[CLS] A [SEP] B [SEP]' if pair else '[CLS] text [SEP]'}; use at "
                    f"least {specials}"
                )
        else:
            strategy = None
        room = None if max_length is None else max_length - specials
        stride = _check_count(stride, "stride")
        if strategy is not None and stride and stride >= room:
            raise AttentionLabError(
                f"stride={stride} must be smaller than the {room} tokens max_length="
                f"{max_length} leaves for text; lower stride or raise max_length"
            )
        if head_tokens is not None:
            if strategy != "head+tail":
                raise AttentionLabError(
                    "head_tokens only applies to truncation='head+tail' with a max_length"
                )
            if not 0 <= head_tokens <= room:
                raise AttentionLabError(
                    f"head_tokens={head_tokens} does not fit the {room} tokens max_length="
                    f"{max_length} leaves for text; choose 0 … {room}"
                )
        if overflow and strategy == "head+tail":
            raise AttentionLabError(
                "return_overflowing_tokens needs a truncation that cuts one end "
                "(longest_first, only_first, only_second or last), not head+tail"
            )
        if (
            strategy is not None
            and padding != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length % pad_to_multiple_of
        ):
            raise AttentionLabError(
                f"max_length={max_length} is not a multiple of pad_to_multiple_of="
                f"{pad_to_multiple_of}, so truncated rows could not be padded to it"
            )
        return _Plan(
            add_special_tokens,
            split_into_words,
            strategy,
            max_length,
            room,
            stride,
            head_tokens,
            overflow,
            padding,
            pad_to_multiple_of,
            check_side(padding_side or self.padding_side, "padding_side"),
        )

    def _collated(
        self, texts, pairs, plan, keys, tracked, return_tensors, return_length, dtype=np.int64
    ):
        """Every row of the batch (windows included), padded: ``(data, rows)``."""
        rows, sample_of = [], []
        split = plan.split_into_words
        for index, (first, second) in enumerate(zip(texts, pairs, strict=True)):
            a = self._input(first, "text", split, tracked)
            b = None if second is None else self._input(second, "text_pair", split, tracked)
            for a_part, b_part in self._cut(a, b, plan):
                rows.append(
                    bert_template(
                        a_part,
                        b_part,
                        self.cls_token_id,
                        self.sep_token_id,
                        plan.add_special_tokens,
                    )
                )
                sample_of.append(index)
        width = target_width(
            [len(r) for r in rows], plan.padding, plan.max_length, plan.pad_to_multiple_of
        )
        extra = {}
        if return_length:
            extra["length"] = [len(r) if width is None else max(len(r), width) for r in rows]
        if plan.overflow:
            extra["overflow_to_sample_mapping"] = sample_of
        return collate(
            rows, keys, width, plan.side, self.pad_token_id, return_tensors, dtype, extra
        )

    def _cut(self, a: Pieces, b: Pieces | None, plan: _Plan) -> list[tuple]:
        """``(a, b)`` as truncated, then (``plan.overflow``) the other windows, in Hugging
        Face's order: each further window of ``a`` with every window of ``b``, then ``a``'s
        first window with the further windows of ``b``."""
        strategy, room = plan.strategy, plan.room
        if strategy is None:
            return [(a, b)]
        if strategy == "head+tail":
            if len(a) <= room:
                return [(a, b)]
            head, tail = head_and_tail(len(a), room, plan.head_tokens)
            return [(a[head] + a[tail], b)]
        if len(a) + (0 if b is None else len(b)) <= room:
            return [(a, b)]
        side = "left" if strategy == "last" else self.truncation_side
        if b is None and not plan.overflow and strategy != "only_second" and room:
            # The common case, one text cut to the room, without the general rules' calls.
            return [(a[:room] if side == "right" else a[len(a) - room :], None)]
        keep_a, keep_b = keep_lengths(len(a), None if b is None else len(b), room, strategy)
        if not plan.overflow:  # the first window of each
            cut_a = a[windows(len(a), keep_a, side=side)[0]]
            return [(cut_a, None if b is None else b[windows(len(b), keep_b, side=side)[0]])]
        cuts_a = windows(len(a), keep_a, plan.stride, side)
        if b is None:
            return [(a[w], None) for w in cuts_a]
        cuts_b = windows(len(b), keep_b, plan.stride, side)
        combinations = [(cuts_a[0], cuts_b[0])]
        combinations += [(x, y) for x in cuts_a[1:] for y in cuts_b]
        combinations += [(cuts_a[0], y) for y in cuts_b[1:]]
        return [(a[x], b[y]) for x, y in combinations]

    def encode_plus(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        pad_to_max_length: bool = False,
        **kwargs,
    ) -> BatchEncoding:
        """The chapter's call (transformers 3.0.2): one text or one pair, as :meth:`__call__`.

        ``pad_to_max_length=True`` still works as it did there: pad to ``max_length`` (and cut
        to it), or to the longest row without one; it warns, since transformers deprecated it
        for ``padding="max_length", truncation=True``.
        """
        if isinstance(text, list | tuple) and not kwargs.get("is_split_into_words"):
            raise AttentionLabError(
                "encode_plus encodes one text or one pair; call the tokenizer itself on a list"
            )
        if pad_to_max_length:
            warnings.warn(
                "pad_to_max_length=True is deprecated (transformers 3 deprecated it, 5 removed "
                "it): use padding='max_length', truncation=True",
                FutureWarning,
                stacklevel=2,
            )
            if padding is False:
                if max_length is not None and truncation is None:
                    truncation = "longest_first"
                padding = "max_length" if max_length is not None else "longest"
        return self(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            **kwargs,
        )

    def pad(
        self,
        encoded_inputs,
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> dict:
        """Pad what is already encoded: a dict of lists (one example or a batch) or a list of
        dicts (a data collator's input), as Hugging Face's ``pad``.

        ``input_ids`` get ``[PAD]``, ``token_type_ids`` 0, ``special_tokens_mask`` 1,
        ``offset_mapping`` ``(0, 0)``; an ``attention_mask`` is made if missing. (Hugging Face
        leaves ``offset_mapping`` unpadded; here it is padded like the rest.)
        """
        if isinstance(encoded_inputs, list | tuple):
            if not encoded_inputs or not all(isinstance(e, dict) for e in encoded_inputs):
                raise AttentionLabError("pad takes a dict of lists or a non-empty list of dicts")
            encoded_inputs = {
                key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]
            }
        if "input_ids" not in encoded_inputs:
            raise AttentionLabError(
                f"pad needs input_ids; got {', '.join(map(str, encoded_inputs)) or 'nothing'}"
            )
        ids = encoded_inputs["input_ids"]
        single = len(ids) == 0 or not isinstance(ids[0], list | tuple | np.ndarray)
        fills = {"input_ids": self.pad_token_id, **PAD_VALUES}
        data = {
            key: [list(row) for row in ([value] if single else value)] if key in fills else value
            for key, value in encoded_inputs.items()
        }
        if return_attention_mask is False:
            data.pop("attention_mask", None)
        elif "attention_mask" not in data:
            data["attention_mask"] = [[1] * len(row) for row in data["input_ids"]]
        padding = padding_strategy(padding)
        if padding == "max_length" and max_length is None:
            raise AttentionLabError("padding='max_length' needs max_length; pass max_length=N")
        width = target_width(
            [len(row) for row in data["input_ids"]], padding, max_length, pad_to_multiple_of
        )
        side = check_side(padding_side or self.padding_side, "padding_side")
        if width is not None:
            for key in data.keys() & fills.keys():
                data[key] = [pad_values(row, width, side, fills[key]) for row in data[key]]
        if single:
            return {key: value[0] if key in fills else value for key, value in data.items()}
        return to_tensors(data, return_tensors)

    def encode(
        self,
        text: str,
        text_pair: str | None = None,
        max_length: int | None = None,
        truncation: bool | str = True,
        padding: bool | str = False,
        head_tokens: int | None = None,
    ) -> dict[str, list[int]]:
        """``input_ids``, ``token_type_ids`` and ``attention_mask`` of one text or pair, as lists.

        Truncation (``True`` = ``"longest_first"``) applies when ``max_length`` is given;
        ``padding="max_length"`` needs it. An empty ``text_pair`` counts as none, as in the
        tokenizer call (a batch call encodes it as ``[CLS] A [SEP] [SEP]``).
        """
        if padding_strategy(padding) == "max_length" and max_length is None:
            raise AttentionLabError("padding='max_length' needs max_length; pass max_length=N")
        encoding = self(
            _check_text(text, "text"),
            None if text_pair is None else _check_text(text_pair, "text_pair"),
            max_length=max_length,
            truncation=truncation if max_length is not None else False,
            padding=padding,
            head_tokens=head_tokens,
        )
        return {key: encoding[key] for key in FEATURES}

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
        if padding_strategy(padding) == "max_length" and max_length is None:
            raise AttentionLabError("padding='max_length' needs max_length; pass max_length=N")
        pairs = [None] * len(texts) if text_pairs is None else list(text_pairs)
        plan = self._plan(
            text_pairs is not None,
            padding=padding,
            truncation=truncation if max_length is not None else False,
            max_length=max_length,
            head_tokens=head_tokens,
        )
        encoded, _ = self._collated(texts, pairs, plan, FEATURES, False, "np", False, np.int32)
        return {key: encoded[key] for key in FEATURES}

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
