# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Encoder-decoder networks and Bahdanau attention
#
# *Follows chapter section 3, "BERT-based transfer learning": "Encoder-decoder networks"
# (Sutskever et al., 2014) and "Attention" (Bahdanau et al., 2015), the road to the
# Transformer.*
#
# An encoder reads the whole input; a decoder writes the output one token at a time. Without
# attention the decoder sees only the encoder's final state, one fixed-size *summary* of the
# input. With Bahdanau attention it computes, at every output step, alignment weights over
# all the encoder's states and reads their weighted sum (the *context vector*). The chapter
# describes this with translation; here the task is small enough to train on a CPU in
# minutes and has alignments a person can check: human-readable dates to ISO dates
# (`"Tuesday, 3rd of March 2021"` → `"2021-03-03"`), character by character.
#
# **Modes.** Fast mode (the test suite) trains tiny models (16 units) on 640 examples for one
# epoch: the pictures are those of an untrained model. Full mode uses the command line's
# settings (`attention-lab seq2seq train --task dates`: 20,000 examples, 6 epochs, 64 units);
# if that command has already written its checkpoints under `runs/`, the tutorial loads them
# instead of training.
#
# The committed notebook was executed in full mode, with the two checkpoints written by
# `attention-lab seq2seq train --task dates --attention` and `--no-attention` (their training
# is in `docs/results.md`).

# %%
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %%
import io
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import attention_lab
from attention_lab.layers.bahdanau import BahdanauAttention
from attention_lab.tasks import get_task
from attention_lab.training.seq2seq import (
    TrainingSettings,
    build_model,
    exact_match_by_length,
    fit,
    load_run,
)
from attention_lab.viz.accuracy_by_length import plot_accuracy_by_length
from attention_lab.viz.alignment import plot_alignment

ROOT = Path(attention_lab.__file__).resolve().parents[1]
if MODE == "fast":
    settings, n_test = TrainingSettings(epochs=1, n_train=640, units=16), 100
else:
    settings, n_test = TrainingSettings(), 2000  # the CLI's defaults
print(settings)


def show(fig):
    """Display a figure as PNG whatever matplotlib backend the plotting helpers selected."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


# %% [markdown]
# ## The task
#
# Inputs come in many formats; outputs are always `YYYY-MM-DD`. The held-out examples are
# inputs never seen in training.

# %%
task = get_task("dates")
print(task.description)
train, test = task.split(settings.n_train, n_test, settings.seed)
for source, target in train[:6]:
    print(f"{source!r:40s} -> {target!r}")
print(f"{len(train):,} training and {len(test):,} held-out pairs")

# %% [markdown]
# Characters become ids (0 is padding, then the start and end tokens). The decoder is
# trained with *teacher forcing*: its input at step *t* is the true character *t - 1*
# (`decoder_input` starts with `<s>`), and it must predict character *t* (`labels` end with
# `</s>`).

# %%
arrays = task.arrays(train[:2])
for name, value in arrays.items():
    print(f"{name:14s} {value.shape}  {value[0][:16]}")
print("source alphabet:", len(task.source_alphabet), "characters; target:", task.target_alphabet)

# %% [markdown]
# ## Bahdanau attention, one step
#
# For the decoder state s and every encoder state hᵢ: score eᵢ = vᵀ tanh(W₁hᵢ + W₂s), weights
# α = softmax(e) (padding excluded), context c = Σᵢ αᵢhᵢ. On random numbers, to see the
# shapes:

# %%
rng = np.random.default_rng(0)
states = rng.normal(size=(2, 7, 8)).astype("float32")  # (batch, source_len, 2 * units)
query = rng.normal(size=(2, 8)).astype("float32")  # (batch, decoder units)
mask = np.array([[1] * 7, [1] * 4 + [0] * 3])  # the second source has 3 padding positions
context, weights = BahdanauAttention(units=5)(query, states, mask=mask)
print("context:", tuple(context.shape), " weights:", tuple(weights.shape))
print(np.asarray(weights).round(3))

# %% [markdown]
# ## Two models, one difference
#
# Both have the same bidirectional LSTM encoder and LSTM decoder; they differ only in the
# context the decoder reads at each step: the fixed summary (the encoder's final states), or
# Bahdanau's weighted sum of all encoder states.


# %%
def trained(attention: bool):
    """The CLI's checkpoint when full mode finds one, else a model trained here."""
    kind = "attention" if attention else "plain"
    checkpoint = ROOT / "runs" / f"seq2seq-dates-{kind}"
    if MODE == "full" and (checkpoint / "training.json").is_file():
        model, metadata = load_run(checkpoint)
        if metadata["settings"] == vars(settings):
            print(f"{kind}: loaded {checkpoint.relative_to(ROOT)} (trained by the CLI)")
            return model
    model = build_model(task, attention, settings)
    print(f"{kind}: {model.count_params():,} parameters; training")
    start = time.perf_counter()
    fit(model, task, train, settings, verbose=2)
    print(f"{kind}: trained in {time.perf_counter() - start:.0f} s")
    return model


models = {"plain": trained(attention=False), "attention": trained(attention=True)}

# %% [markdown]
# ## Greedy decoding and exact match
#
# At test time there is no true previous character: the decoder feeds back its own choice
# until it writes `</s>`. An output counts only if it is exactly right.

# %%
edges = [*range(5, task.max_source_len + 1, 5), task.max_source_len + 1]
results = {}
for kind, model in models.items():
    rows = exact_match_by_length(model, test, edges)
    overall = sum(n * acc for _, _, n, acc in rows) / len(test)
    results[kind] = {
        "exact_match": overall,
        "exact_match_by_length": [
            {"first": a, "last": b, "examples": n, "exact_match": acc} for a, b, n, acc in rows
        ],
    }
    print(f"{kind:10s} exact match on {len(test):,} held-out dates: {overall:.1%}")

# The sample of the heatmap below goes first, then held-out inputs: one batch of the same
# shape as the evaluation's, so the compiled greedy decoder is reused, not compiled again.
sample = "Tuesday, 3rd of March 2021"
probe = [sample] + [source for source, _ in test[: len(test) - 1]]
translations = {kind: model.translate(probe) for kind, model in models.items()}
for kind in models:
    print(f"\n{kind}:")
    for translation, (_, target) in zip(translations[kind][1:6], test[:5], strict=True):
        mark = "ok" if translation.text == target else f"wrong, expected {target}"
        print(f"  {translation.source!r:38s} -> {translation.text!r}  ({mark})")

# %%
fig, _ = plot_accuracy_by_length(results)
fig.axes[0].set_title("dates: exact match by input length")
show(fig)

# %% [markdown]
# ## The alignment heatmap
#
# Row *t* is the attention of output character *t* over the input characters. A trained
# model reads the year's digits when it writes the year, the month's name (or number) when it
# writes the month, and the day when it writes the day. As the chapter warns, this shows where
# the decoder looks, not why it writes what it writes.

# %%
translation = translations["attention"][0]
print(f"{sample!r} -> {translation.text!r}")
fig, _ = plot_alignment(translation)
show(fig)
