""""Attention is not explanation", measured on IMDb (Jain and Wallace, 2019; Wiegreffe and
Pinter, 2019), end to end:

    python -m attention_lab.interpret.jain_wallace --data aclImdb_v1.tar.gz \\
        --glove glove.6B.50d.txt.gz [--bert RUN_DIR] --out runs/jain-wallace [--quick]

1. Prepare IMDb as in chapter section 2 (:func:`~attention_lab.training.bilstm.prepare_imdb_glove`:
   the first ``train_reviews`` reviews of each split, GloVe 50d).
2. Train the attention BiLSTM twice, with learned and with uniform attention (Wiegreffe and
   Pinter's baseline), and test both.
3. On the first ``measure_reviews`` test reviews of the learned model: Kendall τ between
   attention, gradient and leave-one-out importance; the median output change under 100
   permutations of the weights; adversarial attention within ``|Δŷ| ≤ 0.01``
   (:mod:`attention_lab.interpret.explanation`).
4. With ``--bert`` (a ``finetune --out`` folder): τ between integrated gradients and attention
   rollout, and raw ``[CLS]`` attention, on the first ``bert_reviews`` test reviews.

The run folder ``--out`` gets ``results.json`` (settings, figures, the machine and the
seconds each step took), ``arrays.npz`` (the per-review values), ``jain_wallace.png`` and the
chapter's review with its attention, gradient, leave-one-out and adversarial weights
(``example_*.png``). It is written as a whole at the end
(:func:`attention_lab.io.atomic_directory`), with the ``.attention_lab`` marker that lets a
later ``--overwrite`` replace it; a folder without the marker is never replaced.
``--quick`` is a tiny version for the test suite; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError, describe_os_error, shorten_words
from attention_lab.io import atomic_directory, atomic_file, atomic_write_json
from attention_lab.runtime import machine

FORMAT = "attention_lab.jain_wallace/1"
EXAMPLE = "This was an absolutely terrible movie. Don't be lured in by Christopher Walken"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The size of the experiment (defaults: the full run of ``docs/results.md``)."""

    train_reviews: int = 10_000
    max_len: int = 150
    truncate: str = "first"
    epochs: int = 4
    batch_size: int = 32
    rnn_units: int = 64
    attention_units: int = 64
    measure_reviews: int = 1_000
    permutations: int = 100
    adversarial_steps: int = 300
    epsilon: float = 0.01
    bert_reviews: int = 100
    ig_steps: int = 24
    bert_max_len: int = 128
    seed: int = 42


QUICK = Settings(
    train_reviews=300,
    max_len=48,
    epochs=1,
    measure_reviews=12,
    permutations=10,
    adversarial_steps=15,
    bert_reviews=2,
    ig_steps=8,
    bert_max_len=48,
)


class _Clock:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 1)
        self._last = now
        print(f"[jain-wallace] {name}: {self.seconds[name]:.0f} s", flush=True)


def _example_row(prepared, data, settings: Settings) -> tuple[np.ndarray, str]:
    """The chapter's review (section 3) from the training split, encoded; else test review 0."""
    from attention_lab.data.imdb import read_imdb
    from attention_lab.data.text_encoder import encode_and_pad

    texts = read_imdb("train", data).texts
    found = next((t for t in texts if t.decode("utf-8", "replace").startswith(EXAMPLE)), None)
    if found is None:
        return prepared.x_test[:1], "test review 0"
    row = encode_and_pad(prepared.encoder, [found], settings.max_len, settings.truncate)
    return row, "the chapter's review"


def _bilstm_measures(model, ids: np.ndarray, settings: Settings, clock: _Clock) -> dict:
    from attention_lab.interpret import explanation as ex

    weights, _, _ = ex.attention_and_states(model, ids)
    gradient = ex.gradient_importance(model, ids)
    clock.lap("gradients")
    loo = ex.leave_one_out(model, ids)
    clock.lap("leave-one-out")
    taus = {"attention_gradient": [], "attention_loo": [], "gradient_loo": []}
    for a, g, o, length in zip(weights, gradient, loo, (ids != 0).sum(axis=1), strict=True):
        taus["attention_gradient"].append(ex.kendall_tau(a[:length], g[:length]))
        taus["attention_loo"].append(ex.kendall_tau(a[:length], o[:length]))
        taus["gradient_loo"].append(ex.kendall_tau(g[:length], o[:length]))
    medians = ex.permuted_output_change(model, ids, settings.permutations, settings.seed)
    clock.lap("permutations")
    jsd, change, _ = ex.adversarial_attention(
        model, ids, settings.epsilon, settings.adversarial_steps, seed=settings.seed
    )
    clock.lap("adversarial attention")
    return {
        **{f"tau_{k}": np.asarray(v) for k, v in taus.items()},
        "max_attention": weights.max(axis=1),
        "permutation_median": medians,
        "adversarial_jsd": jsd,
        "adversarial_change": change,
    }


def _summaries(arrays: dict, settings: Settings) -> dict:
    from attention_lab.interpret.explanation import summarise

    taus = ("attention_gradient", "attention_loo", "gradient_loo")
    results = {
        "kendall_tau": {k: summarise(arrays[f"tau_{k}"]) for k in taus},
        "permutation": {
            "median_of_medians": float(np.median(arrays["permutation_median"])),
            "share_below_0.01": float((arrays["permutation_median"] < 0.01).mean()),
            "permutations": settings.permutations,
        },
        "adversarial": {
            "epsilon": settings.epsilon,
            "median_jsd": float(np.median(arrays["adversarial_jsd"])),
            "share_above_0.5": float((arrays["adversarial_jsd"] > 0.5).mean()),
            "steps": settings.adversarial_steps,
        },
    }
    if "bert_tau_rollout" in arrays:
        results["bert"] = {
            "kendall_tau": {
                "rollout_ig": summarise(arrays["bert_tau_rollout"]),
                "raw_cls_attention_ig": summarise(arrays["bert_tau_raw_cls_attention"]),
                "gradient_x_input_ig": summarise(arrays["bert_tau_gradient_x_input"]),
            },
            "ig_completeness_error_max": float(np.nanmax(arrays["bert_completeness"])),
            "ig_completeness_error_median": float(np.median(arrays["bert_completeness"])),
        }
    return results


def _write_example(model, prepared, data, settings: Settings, folder: Path) -> dict:
    from attention_lab.interpret import explanation as ex
    from attention_lab.viz.attention import plot_token_scores, save_figure

    row, which = _example_row(prepared, data, settings)
    words = prepared.encoder.decode(row[0][row[0] != 0]).split(" ")
    n = len(words)
    weights, _, output = ex.attention_and_states(model, row)
    _, change, adversarial = ex.adversarial_attention(
        model, row, settings.epsilon, settings.adversarial_steps, seed=settings.seed
    )
    panels = {
        "attention": (weights[0, :n], f"attention α (ŷ = {output[0]:.3f})"),
        "gradient": (ex.gradient_importance(model, row)[0, :n], "gradient importance"),
        "leave_one_out": (ex.leave_one_out(model, row)[0, :n], "leave-one-out |Δŷ|"),
        "adversarial": (
            adversarial[0, :n],
            f"adversarial attention (|Δŷ| = {change[0]:.4f}, "
            f"JSD = {float(ex.jensen_shannon(adversarial[0], weights[0])):.2f})",
        ),
    }
    for name, (scores, title) in panels.items():
        save_figure(
            plot_token_scores(words, scores, f"{which}: {title}"), folder / f"example_{name}.png"
        )
    return {"review": which, "tokens": n, "probability": float(output[0])}


def _load_classifier(source):
    from attention_lab.convert import load_bert

    loaded = load_bert(source)
    if loaded.head is None:
        raise AttentionLabError(
            f"--bert {source} is an encoder without a classifier; integrated gradients need a "
            "fine-tuned one: pass the --out folder of `attention-lab finetune`"
        )
    return loaded


def _bert_arrays(loaded, data, settings: Settings) -> dict:
    from attention_lab.data.imdb import read_imdb
    from attention_lab.interpret.explanation import bert_agreement

    texts = read_imdb("test", data).texts[: settings.bert_reviews]
    rows = bert_agreement(
        loaded.model,
        loaded.tokenizer(),
        [t.decode("utf-8") for t in texts],
        steps=settings.ig_steps,
        max_len=settings.bert_max_len,
    )
    completeness = rows.pop("completeness")
    return {f"bert_tau_{k}": v for k, v in rows.items()} | {"bert_completeness": completeness}


def run(
    out,
    data=None,
    glove=None,
    bert=None,
    settings: Settings = Settings(),
    overwrite: bool = False,
    verbose: int = 2,
    command: str | None = None,
) -> dict:
    """Run the experiment into the folder ``out``; return what ``results.json`` holds.

    ``out`` is checked first, under the rule of every writer (:mod:`attention_lab.io`): an
    existing folder is replaced only with ``overwrite`` and only if it carries the
    ``.attention_lab`` marker an earlier run wrote (a run folder or an input never);
    ``command`` is recorded as given.
    """
    from attention_lab.training.attention_bilstm import (
        build_attention_bilstm,
        predict_probabilities,
        train_attention_bilstm,
    )
    from attention_lab.training.bilstm import prepare_imdb_glove
    from attention_lab.viz.attention import plot_explanation_tests, save_figure

    if glove is None:
        raise AttentionLabError("the BiLSTM starts from GloVe: pass --glove glove.6B.50d.txt.gz")
    results = {"format": FORMAT, "command": command, "settings": dataclasses.asdict(settings)}
    results["machine"] = {**machine(), "load_average_at_start": os.getloadavg()[0]}
    inputs = (data, glove, bert)  # the folder may not be, hold or lie in one of them
    with atomic_directory(out, overwrite, writer="jain_wallace", inputs=inputs) as folder:
        clock = _Clock()
        # Loaded first: the run folder's weights are named after Keras's global counters.
        classifier = None if bert is None else _load_classifier(bert)
        prepared = prepare_imdb_glove(
            data, glove, settings.max_len, settings.truncate, limit=settings.train_reviews
        )
        clock.lap("prepare IMDb and GloVe")
        models, results["training"], results["accuracy"] = {}, {}, {}
        for attention in ("learned", "uniform"):
            model = build_attention_bilstm(
                prepared, attention, settings.rnn_units, settings.attention_units, settings.seed
            )
            results["training"][attention] = train_attention_bilstm(
                model,
                prepared,
                settings.epochs,
                settings.batch_size,
                seed=settings.seed,
                verbose=verbose,
            )
            probabilities = predict_probabilities(model, prepared.x_test)
            accuracy = ((probabilities > 0.5) == prepared.y_test).mean()
            results["accuracy"][attention] = float(accuracy)
            models[attention] = model
            clock.lap(f"train and test, {attention} attention")
        results["train_reviews"] = len(prepared.y_train)
        results["test_reviews"] = len(prepared.y_test)
        ids = prepared.x_test[(prepared.x_test != 0).any(axis=1)][: settings.measure_reviews]
        results["measured_reviews"] = len(ids)
        arrays = _bilstm_measures(models["learned"], ids, settings, clock)
        if classifier is not None:
            arrays.update(_bert_arrays(classifier, data, settings))
            results["bert_source"] = str(bert)
            clock.lap("BERT: integrated gradients, rollout")
        results.update(_summaries(arrays, settings))
        results["example"] = _write_example(models["learned"], prepared, data, settings, folder)
        save_figure(plot_explanation_tests(results, arrays), folder / "jain_wallace.png")
        with atomic_file(folder / "arrays.npz") as tmp:
            np.savez(tmp, **arrays)
        clock.lap("figures")
        results["seconds"] = clock.seconds
        results["machine"]["load_average_at_end"] = os.getloadavg()[0]
        atomic_write_json(folder / "results.json", results)
    return results


def table(results: dict) -> str:
    """The Markdown table of ``docs/results.md`` for one run's ``results.json``."""

    def tau(row):
        return f"{row['mean']:.2f} ± {row['std']:.2f}"

    k = results["kendall_tau"]
    lines = [
        "| measure | ours |",
        "| --- | ---: |",
        f"| test accuracy, learned attention | {results['accuracy']['learned']:.2%} |",
        f"| test accuracy, uniform attention | {results['accuracy']['uniform']:.2%} |",
        f"| Kendall τ attention vs gradient | {tau(k['attention_gradient'])} |",
        f"| Kendall τ attention vs leave-one-out | {tau(k['attention_loo'])} |",
        f"| Kendall τ gradient vs leave-one-out | {tau(k['gradient_loo'])} |",
        f"| median over reviews of the median \\|Δŷ\\| under permutation | "
        f"{results['permutation']['median_of_medians']:.4f} |",
        f"| median JSD of adversarial attention with \\|Δŷ\\| ≤ {results['adversarial']['epsilon']}"
        f" | {results['adversarial']['median_jsd']:.3f} |",
    ]
    if "bert" in results:
        b = results["bert"]["kendall_tau"]
        lines += [
            f"| BERT: Kendall τ rollout vs \\|IG\\| | {tau(b['rollout_ig'])} |",
            f"| BERT: Kendall τ raw [CLS] attention vs \\|IG\\| | "
            f"{tau(b['raw_cls_attention_ig'])} |",
            f"| BERT: Kendall τ \\|gradient × input\\| vs \\|IG\\| | "
            f"{tau(b['gradient_x_input_ig'])} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attention_lab.interpret.jain_wallace",
        description=__doc__.splitlines()[0].strip('"'),
    )
    parser.add_argument("--data", help="IMDb aclImdb_v1.tar.gz or aclImdb/ folder")
    parser.add_argument("--glove", required=True, help="glove.6B.50d.txt(.gz)")
    parser.add_argument("--bert", help="a finetune --out folder, for the BERT correlations")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run folder")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    argv_used = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv_used)
    try:
        results = run(
            args.out,
            args.data,
            args.glove,
            args.bert,
            QUICK if args.quick else Settings(),
            overwrite=args.overwrite,
            command=" ".join(["python -m attention_lab.interpret.jain_wallace", *argv_used]),
        )
    except AttentionLabError as err:
        print(f"jain_wallace: error: {shorten_words(' '.join(str(err).split()))}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only folder: one line, nothing half-written
        print(f"jain_wallace: error: {describe_os_error(err)}", file=sys.stderr)
        return 2
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
