"""BERT's basic tokenizer: clean, normalise and split text into words before WordPiece.

Chapter section 4 ("Tokenization and normalization with BERT"); Devlin et al. (2019), the
``BasicTokenizer`` of Google's ``tokenization.py``. In the order the reference applies them:

1. **Clean**: drop NUL, U+FFFD and control/format/private-use characters (tab, LF and CR count
   as whitespace instead).
2. **CJK**: every CJK ideograph becomes a word of its own (Chinese has no spaces).
3. **Strip accents** (uncased, or when asked): canonical decomposition (NFD), then drop the
   non-spacing marks, so ``Café`` becomes ``Cafe``.
4. **Lower-case** (uncased), character by character.
5. **Split** on whitespace, and isolate every punctuation character, ASCII symbols such as
   ``$``, ``+``, ``<`` and ``^`` included: ``don't`` → ``don``, ``'``, ``t``.

The character classes come from :mod:`attention_lab.tokenization._unicode_tables` so that the
result equals the reference's on every code point whatever Python's Unicode version is.

Each step works character by character, so every character of the normalised text comes from
one character of the original: :meth:`BasicTokenizer.normalize_aligned` says which, and with it
a word's span in the normalised text maps back to the original text (Hugging Face's
``offset_mapping``).
"""

from __future__ import annotations

import re
import unicodedata

from attention_lab.tokenization import _unicode_tables as tables


def _char_class(ranges, bmp: bool) -> str:
    """The inside of a regular-expression ``[...]`` class matching ``ranges``.

    With ``bmp`` the ranges are cut to the Basic Multilingual Plane: ``re`` then tests a
    character with one bitmap look-up instead of comparing it with every range in turn.
    """
    limit = 0xFFFF if bmp else 0x10FFFF
    return "".join(
        f"\\U{start:08X}-\\U{min(end, limit):08X}" for start, end in ranges if start <= limit
    )


def _patterns(template) -> tuple[re.Pattern, re.Pattern]:
    """``template(bmp)`` compiled for text within the BMP (index 0) and for any text (1)."""
    return re.compile(template(True)), re.compile(template(False))


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _astral(text: str) -> int:
    """1 if ``text`` has a character beyond U+FFFF (emoji, rare CJK), else 0."""
    return 0 if _ASTRAL.search(text) is None else 1


_CONTROL = _patterns(lambda bmp: f"[{_char_class(tables.CONTROL, bmp)}]+")
_MARK = _patterns(lambda bmp: f"[{_char_class(tables.NONSPACING_MARK, bmp)}]+")
_ASCII_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]+")
# In cleaned ASCII text every character is a letter, a digit, whitespace or punctuation.
_ASCII_WORDS = re.compile("[A-Za-z0-9]+|[^A-Za-z0-9\\t\\n\\r ]")
_LOWER_ADDED = {
    code: code + offset
    for start, end, offset in tables.LOWERCASE_ADDED
    for code in range(start, end + 1)
}
_LOWER_ADDED_RE = _patterns(
    lambda bmp: f"[{''.join(chr(c) for c in _LOWER_ADDED if c <= 0xFFFF or not bmp)}]"
)


_WHITESPACE_CLASS = _char_class(tables.WHITESPACE, bmp=False)


def alternation(tokens, whole_words: bool = False) -> str:
    """A regular expression for any of ``tokens``, the longest where several start at one place
    (Hugging Face's leftmost-longest match of added tokens).

    With ``whole_words``, a token only counts between whitespace (or the ends of the text).
    """
    body = "|".join(map(re.escape, sorted(tokens, key=lambda t: (-len(t), t))))
    if whole_words:
        return f"(?<![^{_WHITESPACE_CLASS}])(?:{body})(?![^{_WHITESPACE_CLASS}])"
    return f"(?:{body})"


def split_on(pattern: re.Pattern, text: str):
    """``(start, part, matched)`` for the matches of ``pattern`` and the text between them."""
    start = 0
    for match in pattern.finditer(text):
        if match.start() > start:
            yield start, text[start : match.start()], False
        yield match.start(), match.group(), True
        start = match.end()
    if start < len(text):
        yield start, text[start:], False


def _canonical_order(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Each run of combining marks sorted by combining class (stable), as NFD orders them."""
    out, run = [], []
    for piece in pieces + [("", False)]:
        if piece[0] and unicodedata.combining(piece[0]):
            run.append(piece)
            continue
        out += sorted(run, key=lambda p: unicodedata.combining(p[0]))
        run = []
        if piece[0]:
            out.append(piece)
    return out


def strip_accents(text: str) -> str:
    """NFD, then drop the non-spacing marks: ``"Crème brûlée"`` → ``"Creme brulee"``."""
    kept = tables.NFD_KEPT
    if kept in text:
        text = kept.join(unicodedata.normalize("NFD", part) for part in text.split(kept))
    else:
        text = unicodedata.normalize("NFD", text)
    return _MARK[_astral(text)].sub("", text)


def lower(text: str) -> str:
    """Lower-case each character on its own (no final-sigma rule, unlike ``str.lower``)."""
    text = "".join([c.lower() for c in text]) if "Σ" in text else text.lower()
    if _LOWER_ADDED_RE[_astral(text)].search(text):
        text = text.translate(_LOWER_ADDED)
    return text


class BasicTokenizer:
    """Text → words, as BERT's normaliser and pre-tokenizer produce them.

    ``lowercase`` is ``do_lower_case``; ``strip_accents=None`` strips accents exactly when
    lower-casing (the reference's default); ``tokenize_chinese_chars`` isolates CJK ideographs;
    ``never_split`` lists words kept exactly as written (neither normalised nor split) where
    they stand between whitespace, as in the reference's Python ``BasicTokenizer``.
    """

    def __init__(
        self,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        never_split=None,
    ):
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.never_split = frozenset(never_split or ())
        self._never_split = (
            re.compile(alternation(self.never_split, whole_words=True)) if never_split else None
        )
        self._one_char: dict[str, bool] = {}  # character → whether it normalises to one

        def words(bmp: bool) -> str:
            # One punctuation (or CJK) character, or a run of anything else but whitespace.
            alone = _char_class(tables.PUNCTUATION, bmp)
            if tokenize_chinese_chars:
                alone += _char_class(tables.CJK, bmp)
            return f"[{alone}]|[^{alone}{_char_class(tables.WHITESPACE, bmp)}]+"

        self._words = _patterns(words)

    def normalize(self, text: str) -> str:
        """Steps 1, 3 and 4: cleaned, accent-stripped and lower-cased text."""
        if text.isascii():
            if not text.isprintable():
                text = _ASCII_CONTROL.sub("", text)
            return text.lower() if self.lowercase else text
        control = _CONTROL[_astral(text)]
        if control.search(text):
            text = control.sub("", text)
        if self.strip_accents:
            text = strip_accents(text)
        if self.lowercase:
            text = lower(text)
        return text

    def normalize_aligned(self, text: str) -> tuple[str, list[int] | None]:
        """:meth:`normalize`'s text and, for each of its characters, the index in ``text`` of
        the character it stands for (``None``: every character stayed where it was).

        As in the reference, the alignment goes by position: accent stripping decomposes
        (NFD), which puts runs of combining marks in canonical order, and then the k-th
        character that starts a decomposition stands for the k-th character of the text.
        """
        normalized = self.normalize(text)
        if len(normalized) == len(text) and (text.isascii() or self._in_place(text)):
            return normalized, None
        kept = [i for i, char in enumerate(text) if not _CONTROL[_astral(char)].match(char)]
        if self.strip_accents:
            pieces = []  # (character, whether it starts a decomposition)
            for index in kept:
                char = text[index]
                parts = char if char == tables.NFD_KEPT else unicodedata.normalize("NFD", char)
                pieces += [(part, j == 0) for j, part in enumerate(parts)]
            pieces = _canonical_order(pieces)
            items, position = [], -1
            for char, starts in pieces:
                position += starts
                if not _MARK[_astral(char)].match(char):
                    items.append((char, kept[max(position, 0)]))
        else:
            items = [(text[index], index) for index in kept]
        if self.lowercase:
            items = [(low, origin) for char, origin in items for low in lower(char)]
        assert "".join(char for char, _ in items) == normalized, text
        return normalized, [origin for _, origin in items]

    def _in_place(self, text: str) -> bool:
        """Whether each character of ``text`` normalises to exactly one character."""
        chars, one = set(text), self._one_char
        for char in chars.difference(one):
            one[char] = len(self.normalize(char)) == 1
        return all(one[char] for char in chars)

    def split(self, normalized: str) -> list[str]:
        """Step 5 on normalised text: its words."""
        if normalized.isascii():
            # Most of IMDb: a simpler pattern that finds the same words faster.
            return _ASCII_WORDS.findall(normalized)
        return self._words[_astral(normalized)].findall(normalized)

    def split_spans(self, normalized: str) -> list[tuple[int, int]]:
        """Step 5 on normalised text: where each of its words starts and ends."""
        pattern = _ASCII_WORDS if normalized.isascii() else self._words[_astral(normalized)]
        return [match.span() for match in pattern.finditer(normalized)]

    def tokenize(self, text: str) -> list[str]:
        """The words of ``text``: ``"Don't!"`` → ``["don", "'", "t", "!"]`` (uncased)."""
        if self._never_split is None:
            return self.split(self.normalize(text))
        words = []
        for _, part, kept in split_on(self._never_split, text):
            words.extend([part] if kept else self.split(self.normalize(part)))
        return words
