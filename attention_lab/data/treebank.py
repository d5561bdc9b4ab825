"""A Penn-Treebank-style tokenizer spelled as GloVe 6B's vocabulary (chapter section 2).

The chapter's exercise: GloVe was trained on text split by Stanford's tokenizer, so a review
split the same way should leave fewer words without a vector than the tfds tokenizer, which
cuts at every non-word character (``don't`` → ``don`` ``t``, both pieces then looked up).
This is a tokenizer in the spirit of Stanford's ``PTBTokenizer``, written to the spellings
that the real ``glove.6B.50d.txt`` holds (checked against it word by word):

- contractions split before the clitic: ``don't`` → ``do`` ``n't``, ``can't`` → ``ca``
  ``n't``, ``won't`` → ``wo`` ``n't``, ``it's`` → ``it`` ``'s``, and ``'re 've 'll 'd 'm``
  (GloVe holds ``n't``, ``ca``, ``wo``, ``'s``, ...); ``o'clock`` stays whole, ``l'``, ``d'``,
  ``j'`` keep their apostrophe, any other apostrophe inside a word is a token of its own;
- double quotes as the Treebank writes them, ``````  opening and ``''`` closing (GloVe holds
  both); a single quote opening a word is ``````, else ``'``;
- brackets stay literal, ``( ) [ ] { }``: GloVe 6B has no ``-lrb-`` / ``-rrb-`` (the
  Treebank's escapes), so they are not produced;
- punctuation split off (``, ; : ! ? ( )`` ...); a period or comma between digits stays
  (``3.5``, ``1,000``); hyphens and slashes are split off (``well - made``, ``7 / 10``), as
  CoreNLP 4 does by default (``keep_compounds=True`` keeps them, as the 2014 tokenizer that
  GloVe 6B was built with did: on IMDb that leaves twice as many words without a vector);
- a final period is split off unless the word is an initialism of two or three letters
  (``u.s.``, ``e.g.``, ``u.s.a.``) or a title or abbreviation that GloVe spells with its
  period (``mr.``, ``dr.``, ``vs.``, ...);
- runs of two or more periods are one ``...``, runs of hyphens (and en and em dashes) ``--``;
- IMDb's HTML line breaks (``<br />``) are markup, not words: they become spaces; the
  Windows-1252 punctuation its files carry as control characters (``\x92`` for an
  apostrophe, ``\x96`` for a dash) is read as such.

Everything is lower-cased (GloVe 6B is lower-case); the vocabulary loop keeps case, as the
chapter's does. :class:`TreebankEncoder` is the chapter's
:class:`~attention_lab.data.text_encoder.TokenEncoder` over these tokens, and
:func:`build_treebank_vocabulary` its vocabulary loop.

Kept libraries: NLTK's ``TreebankWordTokenizer`` (3.10) splits contractions and quotes the
same way, but it expects one sentence at a time (it splits a period only at the end of its
input), so on a whole review ``movie. Don't`` leaves ``movie.`` as one token, and its sentence
splitter needs the Punkt model, a separate download; on the IMDb training reviews it leaves
far more words without a vector than either tokenizer here (docs/results.md gives the counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from attention_lab.data.text_encoder import TokenEncoder, _as_text

TOKENIZERS = ("tfds", "treebank")
# Titles and abbreviations that GloVe 6B spells with their period (all in glove.6B.50d.txt).
ABBREVIATIONS = frozenset(
    ("mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "mt", "inc", "ltd", "co",
     "corp", "gen", "col", "sgt", "lt", "capt", "rev", "gov", "sen", "rep", "jan", "feb", "aug",
     "sept", "oct", "nov", "dec", "no", "vol")
)  # fmt: skip
ELISIONS = ("l", "d", "j")  # French elisions that GloVe holds: l' d' j'
CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_BREAK = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def _c1_as_cp1252(code: int) -> str:
    """The Windows-1252 character that IMDb's files carry as the C1 control ``code``."""
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:  # five codes that Windows-1252 leaves undefined
        return " "


# IMDb's reviews hold Windows-1252 punctuation read as Latin-1 (\x96 for an en dash, \x92
# for an apostrophe): read them as Windows-1252; other control characters become spaces, and
# typographic apostrophes, the acute accent typed for one, and dashes are spelled as GloVe has
# them.
_NORMALISE = str.maketrans(
    {
        **{chr(code): " " for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))},
        **{chr(code): _c1_as_cp1252(code) for code in range(0x80, 0xA0)},
    }
)
_APOSTROPHES = str.maketrans({"´": "'", "’": "'", "‘": "'", "‚": ",", "„": '"'})
_PATTERN = r"""
      (?P<dots>\.{2,}|…)                          # an ellipsis
    | (?P<dashes>-{2,}|—|–)                       # a dash
    | (?P<initialism>(?<![\w.])(?:[^\W\d_]\.){2,3}(?![^\W\d_]))  # u.s. e.g. (not s.i.c.k.)
    | (?P<elided>'(?:em|til|cause|n|\d0s)\b)      # 'em 'til '90s: GloVe's own words
    | (?P<word>\w+(?:(?:INNER)\w+)*)(?P<period>\.(?!\.))?   # a word and its inner marks
    | (?P<quote>["“”]|``|'')                      # double quotes
    | (?P<single>['`])                            # a single quote
    | (?P<other>[^\w\s])                          # any other symbol, alone
"""
# Inside a word: an apostrophe (split off below), a period or comma between digits (3.5,
# 1,000); with keep_compounds, hyphens, slashes and ampersands too (at&t).
_INNER = r"'|(?<=\d)[.,](?=\d)"
_TOKEN = re.compile(_PATTERN.replace("INNER", _INNER), re.VERBOSE | re.IGNORECASE)
_TOKEN_COMPOUNDS = re.compile(
    _PATTERN.replace("INNER", _INNER + "|[-/&]"), re.VERBOSE | re.IGNORECASE
)


def _split_clitic(word: str) -> list[str]:
    """``don't`` → ``do`` ``n't``; ``john's`` → ``john`` ``'s``; the French elisions GloVe
    holds keep their apostrophe (``l'intrus`` → ``l'`` ``intrus``; ``d'``, ``j'``);
    ``o'clock``, ``o'brien`` stay whole; any other apostrophe is a token of its own
    (``did'nt`` → ``did`` ``'`` ``nt``)."""
    lower = word.lower()
    for clitic in CLITICS:
        if lower.endswith(clitic) and len(word) > len(clitic):
            return [*_split_clitic(word[: -len(clitic)]), word[-len(clitic) :]]
    if "'" not in word or lower.startswith("o'"):
        return [word]
    head, _, rest = word.partition("'")
    if lower[0] in ELISIONS and len(head) == 1:
        return [head + "'", *_split_clitic(rest)]
    return [head, "'", *_split_clitic(rest)]


def tokenize_treebank(
    text: str | bytes, lowercase: bool = True, keep_compounds: bool = False
) -> list[str]:
    """Treebank-style tokens of ``text`` (see the module docstring), lower-cased unless
    ``lowercase=False`` (the vocabulary loop keeps case, as the chapter's does).

    ``keep_compounds``: keep hyphenated and slashed words whole (``well-made``, ``7/10``), as
    Stanford's tokenizer did when GloVe 6B was built; by default they are split at the mark
    (``well - made``, as CoreNLP 4 does), which leaves fewer words without a vector.
    """
    text = _BREAK.sub(" ", _as_text(text)).translate(_NORMALISE).translate(_APOSTROPHES)
    if lowercase:
        text = text.lower()
    tokens: list[str] = []
    for match in (_TOKEN_COMPOUNDS if keep_compounds else _TOKEN).finditer(text):
        kind, piece = match.lastgroup, match.group(0)
        if match.group("word") is not None:
            kind = "word"
        if kind == "dots":
            tokens.append("...")
        elif kind == "dashes":
            tokens.append("--")
        elif kind in ("initialism", "elided"):
            tokens.append(piece)
        elif kind == "word":
            word = match.group("word")
            if match.group("period") and word.lower() in ABBREVIATIONS:
                tokens.append(word + ".")
            else:
                tokens.extend(_split_clitic(word))
                if match.group("period"):
                    tokens.append(".")
        elif kind == "quote":
            closing = piece in ("”", "''") or (piece == '"' and not _opens(text, match.start()))
            tokens.append("''" if closing else "``")
        elif kind == "single":  # opening a word: the Treebank's `, else the apostrophe
            opens = _opens(text, match.start()) and text[match.end() : match.end() + 1].isalnum()
            tokens.append("`" if opens else "'")
        else:
            tokens.append(piece)
    return tokens


def _opens(text: str, start: int) -> bool:
    """Whether a quote at ``start`` opens: at the start, or after a space or a bracket."""
    return start == 0 or text[start - 1].isspace() or text[start - 1] in "([{"


def build_treebank_vocabulary(texts: Iterable[str | bytes]) -> tuple[list[str], int]:
    """The chapter's vocabulary loop over Treebank tokens: the sorted set, the longest review."""
    vocabulary: set[str] = set()
    max_tokens = 0
    for text in texts:
        tokens = tokenize_treebank(text, lowercase=False)
        vocabulary.update(tokens)
        max_tokens = max(max_tokens, len(tokens))
    return sorted(vocabulary), max_tokens


class TreebankEncoder(TokenEncoder):
    """:class:`~attention_lab.data.text_encoder.TokenEncoder` over :func:`tokenize_treebank`
    (which lower-cases itself): the same ids, padding 0 and one out-of-vocabulary id."""

    tokenizer = "treebank"

    def encode(self, text: str | bytes) -> list[int]:
        lookup, oov = self._token_to_id, self.oov_id
        return [lookup.get(token, oov) for token in tokenize_treebank(text)]


def make_encoder(tokenizer: str, texts, mode: str = "faithful") -> tuple[TokenEncoder, int]:
    """The encoder of ``tokenizer`` (``"tfds"``: the chapter's; ``"treebank"``) over the
    vocabulary of ``texts``, and the longest review in tokens."""
    from attention_lab.data.text_encoder import build_vocabulary
    from attention_lab.errors import AttentionLabError

    if tokenizer not in TOKENIZERS:
        raise AttentionLabError(f"unknown tokenizer {tokenizer!r}; choose one of {TOKENIZERS}")
    if tokenizer == "tfds":
        vocabulary, max_tokens = build_vocabulary(texts)
        return TokenEncoder(vocabulary, lowercase=True, mode=mode), max_tokens
    vocabulary, max_tokens = build_treebank_vocabulary(texts)
    return TreebankEncoder(vocabulary, lowercase=True, mode=mode), max_tokens


def encoder_for(
    tokenizer: str, vocabulary, mode: str = "faithful", lowercase: bool = True
) -> TokenEncoder:
    """The encoder of a saved run: ``tokenizer`` and its vocabulary list."""
    cls = TreebankEncoder if tokenizer == "treebank" else TokenEncoder
    return cls(vocabulary, lowercase=lowercase, mode=mode)
