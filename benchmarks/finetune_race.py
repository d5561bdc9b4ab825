"""The race: fine-tuning with ours (``attention-lab finetune``) against Hugging Face's ``Trainer``.

``python -m benchmarks.finetune_race [--quick] [--out runs/finetune-race] [--threads N]``

Both contenders fine-tune the same checkpoint (all-MiniLM-L6-v2 by default) with the
pre-built head on the same IMDb reviews, with the same settings: the first
``--train-reviews`` training reviews (the loader's fixed order), the chapter's 80/20 split
(seed 42), 150 tokens keeping the first ones, batch 16, AdamW (epsilon 1e-6, weight decay 0.01
off LayerNorm and biases), 10% linear warm-up then linear decay, gradient norm clipped to 1.0,
one epoch. Then both classify the same first ``--test-reviews`` test reviews.

- **ours**: ``attention-lab finetune`` then ``attention-lab evaluate``, run in-process
  (:func:`attention_lab.cli.main.main`), with ``--precision`` as given (``auto`` by default).
- **Trainer**: ``transformers.BertForSequenceClassification`` from the same folder, the inputs
  made by ``BertTokenizerFast`` from the same folder (padded to 150, truncated to the first
  tokens, as ours), ``transformers.Trainer`` in PyTorch on the CPU, bf16 autocast when the
  same rule as ``--precision auto`` (:func:`attention_lab.runtime.choose_plan`) picks
  bfloat16; its default fused AdamW, its linear schedule with the same warm-up steps.

Each contender runs in its own fresh process on the CPU (no GPU is visible to either), its
framework given the same number of compute threads (TensorFlow's intra-op threads,
``torch.set_num_threads``; ``OMP_NUM_THREADS`` alike); inter-op threads are left at each
framework's default. With ``--repeats`` the rounds alternate who goes first.

**Training examples/s** is measured the same way for both: the examples of steps 2 … N over the
sum of those steps' times, the first step (tracing, oneDNN primitive creation) left out.

- ours: ``run.json``'s ``examples_per_second``, the figure ``attention-lab finetune`` prints:
  each step timed from Keras's ``on_train_batch_begin`` to ``on_train_batch_end``, i.e. the
  training function (next batch from the prefetched pipeline, forward, loss, backward,
  clipping, AdamW update);
- Trainer: a ``TrainerCallback`` timing each step from ``on_step_begin`` to ``on_step_end``
  (forward and backward, clipping, the optimizer and scheduler steps, ``zero_grad``); its
  batch is fetched just before ``on_step_begin``.

Work between steps (logging, checkpoints, validation) is outside both figures; each
process's wall time is reported beside them. The outputs are ``finetune_race.json`` and
``finetune_race.md`` (the figures, the CPU, threads, load average, date and command) under
``--out``. ``--quick`` shrinks everything for the test suite; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_write_json, atomic_write_text, claim_folder
from benchmarks.imdb_runs import DATA, minilm
from benchmarks.machine import cpu_info, load_average, utc_now

CONTENDERS = ("ours", "trainer")
TITLES = {"ours": "ours (`attention-lab finetune`)", "trainer": "transformers `Trainer`"}
SIZES = {  # the default race, and the --quick one
    "default": {"train_reviews": 2000, "test_reviews": 2000, "max_len": 150, "batch_size": 16},
    "quick": {"train_reviews": 40, "test_reviews": 16, "max_len": 32, "batch_size": 8},
}
FIXED = {  # the settings every race shares (see the module docstring)
    "epochs": 1,
    "warmup": 0.1,
    "weight_decay": 0.01,
    "clipnorm": 1.0,
    "adam_epsilon": 1e-6,  # ours' AdamW epsilon (attention_lab.training.optimization.adamw)
    "seed": 42,
    "eval_batch_size": 64,  # attention-lab evaluate's default
}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.finetune_race",
        description="Fine-tune the same BERT on the same IMDb reviews with attention-lab "
        "finetune and with transformers' Trainer; report training examples/s and test "
        "accuracy of each.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for the test suite)")
    parser.add_argument("--model", help="Hugging Face BERT folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--data", default=DATA, help="IMDb aclImdb_v1.tar.gz or aclImdb/")
    parser.add_argument("--out", default="runs/finetune-race", help="folder for the results")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="compute threads"
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="auto: the precision --precision auto picks (a timed probe on a CPU)",
    )
    parser.add_argument("--train-reviews", type=int, help="before the 80/20 split (2000)")
    parser.add_argument("--test-reviews", type=int, help="the first N test reviews (2000)")
    parser.add_argument("--max-len", type=int, help="tokens per review (150)")
    parser.add_argument("--batch-size", type=int, help="training batch (16)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-4,
        help="peak learning rate of both (1e-4 suits this small model; the chapter's is 2e-5)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds, alternating the order")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in SIZES["quick" if args.quick else "default"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def check(args) -> None:
    """Refuse settings that cannot make a race, before anything runs."""
    positive = {
        "--threads": args.threads,
        "--test-reviews": args.test_reviews,
        "--batch-size": args.batch_size,
        "--repeats": args.repeats,
    }
    for flag, value in positive.items():
        if value < 1:
            raise AttentionLabError(f"{flag} must be at least 1, got {value}")
    train = training_reviews(args.train_reviews)
    if train < 2 * args.batch_size or train % args.batch_size:
        fit = next(
            n
            for n in itertools.count(max(args.train_reviews, 2))
            if training_reviews(n) >= 2 * args.batch_size
            and training_reviews(n) % args.batch_size == 0
        )
        raise AttentionLabError(
            f"--train-reviews {args.train_reviews} leave {train} after the 20% validation split, "
            f"not a multiple of two or more batches of {args.batch_size} (the first step is not "
            "timed; ours drops a last partial batch, the Trainer would train on it). Pass "
            f"--train-reviews {fit}"
        )
    if not (Path(args.model) / "config.json").is_file():
        raise AttentionLabError(f"--model {args.model} has no config.json; pass a BERT folder")
    if not Path(args.data).exists():
        raise AttentionLabError(f"--data {args.data} does not exist; pass aclImdb_v1.tar.gz")
    # Last, so that a refused race leaves nothing: a new or empty folder (then marked), or
    # an earlier race's folder by its .attention_lab marker; a user's folder, a model or run
    # folder, or an input is refused (attention_lab.io.claim_folder).
    claim_folder(args.out, "finetune_race", inputs=(args.model, args.data))


def training_reviews(reviews: int) -> int:
    """Reviews left for training after the chapter's 20% validation split (rounded up, as
    attention_lab.training.data.train_validation_split; not imported here, since it loads
    TensorFlow into this parent process)."""
    return reviews - math.ceil(0.2 * reviews)


def job(args, precision: str, work: Path) -> dict:
    """What both contenders are given (written to a file each worker reads)."""
    return {
        "model": str(Path(args.model).resolve()),
        "data": str(Path(args.data).resolve()),
        "threads": args.threads,
        "precision_flag": args.precision,
        "precision": precision,
        "train_reviews": args.train_reviews,
        "test_reviews": args.test_reviews,
        "max_len": args.max_len,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        **FIXED,
        "work": str(work),
    }


def warmup_steps(total_steps: int, fraction: float) -> int:
    """The warm-up steps ours takes (attention_lab.training.optimization.adamw's rule)."""
    return int(fraction * total_steps)


# --- the contenders, each in its own process ------------------------------------------------


def command_line(command: str, flags: dict) -> list[str]:
    """``attention-lab COMMAND --flag value … --no-progress`` as an argument list."""
    return [command, *(str(x) for pair in flags.items() for x in pair), "--no-progress"]


def run_ours(spec: dict) -> dict:
    """``attention-lab finetune`` and ``attention-lab evaluate`` with the race's settings."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    import keras

    from attention_lab.cli.main import main as cli
    from attention_lab.training.run_folder import read_finished_run

    run = Path(spec["work"]) / "ours"
    shared = {"--data": spec["data"], "--precision": spec["precision_flag"]}
    finetune = command_line(
        "finetune",
        {
            "--model": spec["model"],
            "--head": "prebuilt",
            "--out": run,
            **shared,
            "--limit": spec["train_reviews"],
            "--epochs": spec["epochs"],
            "--batch-size": spec["batch_size"],
            "--learning-rate": spec["learning_rate"],
            "--warmup": spec["warmup"],
            "--weight-decay": spec["weight_decay"],
            "--clipnorm": spec["clipnorm"],
            "--seed": spec["seed"],
            "--max-len": spec["max_len"],
            "--truncation": "first",
        },
    )
    evaluate = command_line(
        "evaluate",
        {
            "--checkpoint": run,
            **shared,
            "--limit": spec["test_reviews"],
            "--batch-size": spec["eval_batch_size"],
        },
    )
    started = time.perf_counter()
    if code := cli(finetune):
        raise SystemExit(code)
    finetune_seconds = time.perf_counter() - started
    if code := cli(evaluate):
        raise SystemExit(code)
    record = read_finished_run(run)
    result, settings = record["result"], record["settings"]
    test = json.loads((run / "evaluation-test.json").read_text())
    last = result["history"][-1]
    return {
        "commands": [
            "attention-lab " + shlex.join(finetune),
            "attention-lab " + shlex.join(evaluate),
        ],
        "precision": settings["precision"],
        "precision_detail": record["choices"]["plan"],
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default",
        },
        "train_reviews": record["train_reviews"],
        "validation_reviews": record["validation_reviews"],
        "steps": result["steps"],
        "first_step_seconds": result["compile_seconds"],
        "timed_examples": result["train_examples"],
        "timed_seconds": result["train_seconds"],
        "examples_per_second": result["examples_per_second"],
        "train_loss": last.get("loss"),
        "validation_accuracy": last.get("val_accuracy"),
        "finetune_seconds": finetune_seconds,
        "test": {
            **{k: test[k] for k in ("examples", "accuracy", "precision", "recall", "f1")},
            "reviews_per_second": test["examples_per_second"],
        },
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


def run_trainer(spec: dict) -> dict:
    """``transformers.Trainer`` fine-tuning and predicting with the race's settings."""
    import torch

    torch.set_num_threads(spec["threads"])
    import accelerate
    import numpy as np
    import transformers

    from attention_lab.data.imdb import read_imdb
    from attention_lab.training.data import FEATURES, EncodedDataset, train_validation_split
    from attention_lab.training.finetune import SPLIT_SEED, VALIDATION_FRACTION
    from attention_lab.training.metrics import classification_metrics

    tokenizer = transformers.BertTokenizerFast.from_pretrained(
        spec["model"],
        truncation_side="right",  # keep the first tokens: ours' --truncation first
    )

    def encode(split: str, count: int) -> EncodedDataset:
        reviews = read_imdb(split, data=spec["data"])
        count = min(count, len(reviews))
        encoded = tokenizer(
            [text.decode("utf-8") for text in reviews.texts[:count]],
            max_length=spec["max_len"],
            truncation=True,
            padding="max_length",
            return_token_type_ids=True,
        )
        return EncodedDataset({k: np.asarray(encoded[k]) for k in FEATURES}, reviews.labels[:count])

    def rows(data: EncodedDataset) -> list[dict]:
        tensors = {k: torch.from_numpy(v.astype(np.int64)) for k, v in data.features.items()}
        labels = torch.from_numpy(data.labels.astype(np.int64))
        return [
            {**{k: v[i] for k, v in tensors.items()}, "labels": labels[i]} for i in range(len(data))
        ]

    train, validation = train_validation_split(
        encode("train", spec["train_reviews"]), VALIDATION_FRACTION, seed=SPLIT_SEED
    )
    test = encode("test", spec["test_reviews"])

    class StepTimer(transformers.TrainerCallback):
        """Times each optimizer step from ``on_step_begin`` to ``on_step_end``."""

        def __init__(self):
            self.seconds, self.first = [], None

        def on_step_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.perf_counter() - self.began
            if self.first is None:
                self.first = elapsed
            else:
                self.seconds.append(elapsed)

    total_steps = len(train) // spec["batch_size"] * spec["epochs"]  # check() made it exact
    transformers.set_seed(spec["seed"])
    model = transformers.BertForSequenceClassification.from_pretrained(
        spec["model"], num_labels=2, dtype=torch.float32
    )
    arguments = transformers.TrainingArguments(
        output_dir=str(Path(spec["work"]) / "trainer"),
        use_cpu=True,
        bf16=spec["precision"] == "bfloat16",
        per_device_train_batch_size=spec["batch_size"],
        per_device_eval_batch_size=spec["eval_batch_size"],
        num_train_epochs=spec["epochs"],
        learning_rate=spec["learning_rate"],
        lr_scheduler_type="linear",
        warmup_steps=warmup_steps(total_steps, spec["warmup"]),
        weight_decay=spec["weight_decay"],
        adam_epsilon=spec["adam_epsilon"],
        max_grad_norm=spec["clipnorm"],
        seed=spec["seed"],
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        disable_tqdm=True,
    )
    timer = StepTimer()
    trainer = transformers.Trainer(
        model=model,
        args=arguments,
        train_dataset=rows(train),
        eval_dataset=rows(validation),
        compute_metrics=lambda p: {
            "accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())
        },
        callbacks=[timer],
    )
    started = time.perf_counter()
    output = trainer.train()
    finetune_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = trainer.predict(rows(test))
    predict_seconds = time.perf_counter() - started
    metrics = classification_metrics(test.labels, predicted.predictions.argmax(-1))
    timed_examples = spec["epochs"] * len(train) - min(spec["batch_size"], len(train))
    evaluations = [e for e in trainer.state.log_history if "eval_accuracy" in e]
    return {
        "commands": [],
        "precision": "bfloat16" if arguments.bf16 else "float32",
        "precision_detail": f"accelerate mixed_precision={trainer.accelerator.mixed_precision!r}",
        "threads": {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        },
        "train_reviews": len(train),
        "validation_reviews": len(validation),
        "steps": output.global_step,
        "first_step_seconds": timer.first,
        "timed_examples": timed_examples,
        "timed_seconds": sum(timer.seconds),
        "examples_per_second": timed_examples / sum(timer.seconds),
        "trainer_samples_per_second": output.metrics.get("train_samples_per_second"),
        "train_loss": output.training_loss,
        "validation_accuracy": evaluations[-1]["eval_accuracy"] if evaluations else None,
        "finetune_seconds": finetune_seconds,
        "test": {**metrics, "reviews_per_second": len(test) / predict_seconds},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "accelerate": accelerate.__version__,
        },
    }


WORKERS = {"ours": run_ours, "trainer": run_trainer}


def worker(name: str, job_file: str) -> int:
    spec = json.loads(Path(job_file).read_text())
    result = {"contender": name, **WORKERS[name](spec)}
    atomic_write_json(Path(spec["work"]) / f"{name}.json", result)
    return 0


# --- the race: the parent process ------------------------------------------------------------


def order(round_index: int) -> tuple[str, ...]:
    """Who goes first alternates from round to round."""
    return CONTENDERS if round_index % 2 == 0 else CONTENDERS[::-1]


def contender_env(name: str, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).parents[1]), env.get("PYTHONPATH")])
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("HF_HUB_OFFLINE", "1")
    # The Trainer's process reads the data with attention_lab on Keras's PyTorch backend, so
    # that TensorFlow is never loaded beside PyTorch.
    env["KERAS_BACKEND"] = "tensorflow" if name == "ours" else "torch"
    return env


def run_contender(name: str, spec: dict, log: Path) -> dict:
    work = Path(spec["work"])
    work.mkdir(parents=True)
    job_file = work / "job.json"
    atomic_write_json(job_file, spec)
    load_before = load_average()
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.finetune_race",
                "--worker",
                name,
                "--job",
                str(job_file),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=contender_env(name, spec["threads"]),
        )
    if done.returncode:
        raise RuntimeError(f"the {name} contender failed (exit {done.returncode}); see {log}")
    result = json.loads((work / f"{name}.json").read_text())
    result["process_seconds"] = time.perf_counter() - started
    result["load_average"] = {"before": load_before, "after": load_average()}
    return result


def summarize(rounds: list[dict]) -> dict:
    """Median training throughput of each, their ratio, and the test-accuracy difference."""
    import numpy as np

    speed = {n: float(np.median([r[n]["examples_per_second"] for r in rounds])) for n in CONTENDERS}
    accuracy = {n: float(np.mean([r[n]["test"]["accuracy"] for r in rounds])) for n in CONTENDERS}
    reviews = rounds[0]["ours"]["test"]["examples"]
    # Two binomial standard errors of the difference of two accuracies on `reviews` reviews
    # (it ignores the noise of training itself, seed to seed).
    noise = 2 * math.sqrt(sum(a * (1 - a) for a in accuracy.values()) / reviews)
    ratio = speed["ours"] / speed["trainer"]
    difference = accuracy["ours"] - accuracy["trainer"]
    return {
        "examples_per_second": speed,
        "test_accuracy": accuracy,
        "throughput_ratio": ratio,
        "accuracy_difference": difference,
        "accuracy_noise_2se": noise,
        "ours_at_least_as_fast": ratio >= 1.0,
        "accuracy_equal_within_noise": abs(difference) <= noise,
    }


def same_work(rounds: list[dict]) -> None:
    """Both contenders must have done the same work: reviews, steps, test reviews, precision."""
    for r in rounds:
        for key in ("train_reviews", "validation_reviews", "steps", "precision", "test"):
            ours, trainer = r["ours"][key], r["trainer"][key]
            if key == "test":
                ours, trainer = ours["examples"], trainer["examples"]
            if ours != trainer:
                raise RuntimeError(
                    f"the contenders differ in {key}: ours {ours}, Trainer {trainer}"
                )


def markdown(report: dict) -> str:
    s, summary = report["settings"], report["summary"]
    rows = [
        "| contender | round | training examples/s (steps 2…N) | first step (s) | steps | "
        "precision | validation accuracy | test accuracy | test reviews/s | process (s) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for index, r in enumerate(report["rounds"], 1):
        for name in r["order"]:
            c = r[name]
            rows.append(
                f"| {TITLES[name]} | {index} | {c['examples_per_second']:.2f} | "
                f"{c['first_step_seconds']:.1f} | {c['steps']} | {c['precision']} | "
                f"{c['validation_accuracy']:.4f} | {c['test']['accuracy']:.4f} | "
                f"{c['test']['reviews_per_second']:.1f} | {c['process_seconds']:.0f} |"
            )
    loads = [c["load_average"] for r in report["rounds"] for c in (r["ours"], r["trainer"])]
    ours, trainer = report["rounds"][0]["ours"], report["rounds"][0]["trainer"]
    lines = [
        *rows,
        "",
        f"ours / Trainer training throughput: **{summary['throughput_ratio']:.2f}×** "
        f"({'at least as fast' if summary['ours_at_least_as_fast'] else 'slower'}); test accuracy "
        f"{summary['test_accuracy']['ours']:.2%} vs {summary['test_accuracy']['trainer']:.2%} "
        f"(difference {100 * summary['accuracy_difference']:+.2f} points, two standard errors "
        f"{100 * summary['accuracy_noise_2se']:.2f}: "
        f"{'equal within noise' if summary['accuracy_equal_within_noise'] else 'not equal'}).",
        "",
        f"- Settings: {s['train_reviews']:,} training reviews → {ours['train_reviews']:,} train / "
        f"{ours['validation_reviews']:,} validation (seed 42), {s['max_len']} tokens (the first), "
        f"batch {s['batch_size']}, learning rate {s['learning_rate']:g}, warm-up 10% + linear "
        f"decay, weight decay 0.01, clipping 1.0, {s['epochs']} epoch; the first "
        f"{s['test_reviews']:,} test reviews.",
        f"- CPU: {report['cpu']['model']} ({report['cpu']['logical_cpus']} logical CPUs); "
        f"threads: {s['threads']} (ours: TensorFlow intra-op {ours['threads']['intra_op']}, "
        f"inter-op {ours['threads']['inter_op']}; Trainer: torch {trainer['threads']['intra_op']}, "
        f"inter-op {trainer['threads']['inter_op']}).",
        f"- Precision: {s['precision']} (ours: {ours['precision_detail']}; Trainer: "
        f"{trainer['precision_detail']}).",
        "- Load average (1, 5, 15 min) before/after each contender: "
        + "; ".join(f"{a['before']} → {a['after']}" for a in loads)
        + ".",
        *(
            [
                f"- **The machine was busy**: load average {report['load_at_start'][0]} at the "
                f"start, with {s['threads']} of {report['cpu']['logical_cpus']} logical CPUs "
                "wanted by the race. Other work shared the cores, and that slows a framework "
                "whose threads wait for each other by spinning (PyTorch's OpenMP) far more than "
                "the other: this was no fair race. Rerun it on a quiet machine."
            ]
            if report["busy"]
            else []
        ),
        f"- Date: {report['date']}. Command: `{report['command']}`.",
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in {**ours["versions"], **trainer["versions"]}.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def race(args, argv) -> dict:
    from attention_lab.runtime import choose_plan

    precision = choose_plan(args.precision, "off", device="cpu").precision
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    report = {
        "command": shlex.join(["python", "-m", "benchmarks.finetune_race", *argv]),
        "date": utc_now(),
        "cpu": cpu_info(),
        "quick": args.quick,
        "settings": {k: v for k, v in job(args, precision, Path()).items() if k != "work"},
        "rounds": [],
        "load_at_start": load_average(),
    }
    # Busy: other work already runs on the cores the race's threads need.
    report["busy"] = report["load_at_start"][0] + args.threads > report["cpu"]["logical_cpus"] + 0.5
    print(
        f"precision {precision}, {args.threads} threads; load average {report['load_at_start']}"
        + (" (busy: no fair race)" if report["busy"] else ""),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="finetune-race-") as work:
        for index in range(args.repeats):
            entry = {"order": list(order(index))}
            for name in entry["order"]:
                print(f"round {index + 1}: {name} …", flush=True)
                spec = job(args, precision, Path(work) / f"{index}-{name}")
                entry[name] = run_contender(name, spec, out / "logs" / f"{name}-{index + 1}.log")
                c = entry[name]
                print(
                    f"  {c['examples_per_second']:.2f} training examples/s, test accuracy "
                    f"{c['test']['accuracy']:.4f}, {c['process_seconds']:.0f} s; load average "
                    f"{c['load_average']['after']}",
                    flush=True,
                )
            report["rounds"].append(entry)
    same_work(report["rounds"])
    report["summary"] = summarize(report["rounds"])
    atomic_write_json(out / "finetune_race.json", report)
    atomic_write_text(out / "finetune_race.md", markdown(report))
    return report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        return worker(args.worker, args.job)
    args.model = args.model or minilm()
    try:
        check(args)
        report = race(args, argv)
    except AttentionLabError as err:
        print(f"finetune_race: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"finetune_race: {err}", file=sys.stderr)
        return 1
    print(markdown(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
