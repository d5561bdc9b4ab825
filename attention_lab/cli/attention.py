"""``attention-lab attention --model PATH "text"``: what BERT attends to, and what moves its
decision.

- ``--method raw`` (default): attention heatmaps (``--out``), and with ``--html`` the
  interactive viewer (head, model and neuron views);
- ``--method rollout``: attention rollout (:mod:`attention_lab.interpret.rollout`);
- ``--method gradient-x-input`` / ``integrated-gradients``: attributions of a fine-tuned
  classifier's decision (:mod:`attention_lab.interpret.attributions`), the text highlighted
  word by word (``--out`` PNG, ``--html`` page).

Output names are checked before the model is loaded.
"""

from __future__ import annotations

from attention_lab.cli.options import at_least
from attention_lab.errors import AttentionLabError

ATTRIBUTIONS = ("gradient-x-input", "integrated-gradients")
METHODS = ("raw", "rollout", *ATTRIBUTIONS)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "attention",
        help="BERT attention for a text: heatmaps, rollout, an HTML viewer, attributions",
        description="--method raw: with --layer and --head, that head as a token x token "
        "heatmap; with --layer only, every head of the layer; with neither, the attention from "
        "[CLS] across all layers (mean over heads); --html writes the interactive viewer. "
        "--method rollout: the relevance of each token to [CLS] after each layer (with "
        "--layer: the token x token rollout after that layer); --html: the text highlighted "
        "by the last layer's relevance. --method gradient-x-input or integrated-gradients "
        "(a finetune --out folder): the text highlighted by each word's attribution to the "
        "predicted label (or --target), as PNG (--out) and HTML (--html). Layers and heads "
        "count from 0; padding is left out.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="finetune --out folder, Hugging Face BERT directory or hub id, or a folder from "
        "`attention-lab convert`",
    )
    parser.add_argument("text", help="the text to encode")
    parser.add_argument("--method", choices=METHODS, default="raw")
    parser.add_argument("--layer", type=at_least(0), default=None)
    parser.add_argument("--head", type=at_least(0), default=None)
    parser.add_argument("--max-len", type=at_least(2), default=128)
    parser.add_argument(
        "--steps", type=at_least(1), default=32, help="integrated gradients: quadrature points"
    )
    parser.add_argument(
        "--target",
        type=at_least(0),
        default=None,
        help="attributions: label (default: the predicted)",
    )
    parser.add_argument("--out", help="PNG file to write")
    parser.add_argument("--html", help="HTML file to write")
    parser.set_defaults(func=run)


def _check_arguments(args):
    from attention_lab.viz.attention import check_figure_path, check_output_file

    if args.out is None and args.html is None:
        raise AttentionLabError("nothing to write: pass --out FILE.png and/or --html FILE.html")
    from attention_lab.io import check_output_file as check_not_ours

    out = None if args.out is None else check_figure_path(args.out)
    page = None if args.html is None else check_output_file(args.html, "attention.html")
    for option, path in (("--out", out), ("--html", page)):
        if path is not None:  # never onto the model's own files, nor into any model folder
            check_not_ours(path, args.model, option=option)
    if out is not None and page is not None and out.resolve() == page.resolve():
        raise AttentionLabError("--out and --html name the same file; pass two names")
    if args.head is not None and args.method != "raw":
        raise AttentionLabError(f"--head applies to --method raw only, not {args.method}")
    if args.layer is not None and args.method in ATTRIBUTIONS:
        raise AttentionLabError(f"--layer does not apply to --method {args.method}")
    if args.head is not None and args.layer is None:
        raise AttentionLabError("--head needs --layer (which layer's head to plot)")
    return out, page


def _raw(args, maps, out, page) -> list[str]:
    import matplotlib.pyplot as plt

    from attention_lab.interpret.viewer import write_attention_viewer
    from attention_lab.viz.attention import (
        plot_cls_across_layers,
        plot_head,
        plot_layer,
        save_figure,
    )

    done = []
    if out is not None:
        n = len(maps.tokens)
        if args.layer is None:
            fig, ax = plt.subplots(figsize=(max(6, 0.3 * n), 0.5 * maps.num_layers + 2))
            plot_cls_across_layers(maps, ax=ax)
            what = f"[CLS] attention across {maps.num_layers} layers"
        elif args.head is None:
            fig = plot_layer(maps, args.layer)
            what = f"all {maps.num_heads} heads of layer {args.layer}"
        else:
            fig, ax = plt.subplots(figsize=(max(5, 0.3 * n), max(5, 0.3 * n)))
            plot_head(maps, args.layer, args.head, ax=ax)
            what = f"layer {args.layer}, head {args.head}"
        done.append(f"{what} -> {save_figure(fig, out)}")
    if page is not None:
        written = write_attention_viewer(maps, page, title=f"{args.model}: {args.text[:60]}")
        done.append(f"attention viewer -> {written}")
    return done


def _rollout(args, maps, tokenizer, out, page) -> list[str]:
    import matplotlib.pyplot as plt

    from attention_lab.interpret import attention_rollout, group_words, word_scores
    from attention_lab.interpret.highlight import write_highlight
    from attention_lab.viz.attention import plot_rollout, plot_rollout_matrix, save_figure

    rollout = attention_rollout(maps.weights)  # (L, n, n)
    done = []
    if out is not None:
        n = len(maps.tokens)
        if args.layer is None:
            fig, ax = plt.subplots(figsize=(max(6, 0.3 * n), 0.5 * maps.num_layers + 2))
            plot_rollout(maps, rollout[:, 0, :], ax=ax)
            what = f"rollout relevance to [CLS] after each of {maps.num_layers} layers"
        else:
            fig, ax = plt.subplots(figsize=(max(5, 0.3 * n), max(5, 0.3 * n)))
            plot_rollout_matrix(maps, rollout, args.layer, ax=ax)
            what = f"rollout to layer {args.layer}"
        done.append(f"{what} -> {save_figure(fig, out)}")
    if page is not None:
        words = group_words(tokenizer, args.text, maps.input_ids)
        title = "attention rollout: each word's relevance to [CLS] after the last layer"
        scores = word_scores(words, rollout[-1, 0])
        done.append(f"rollout -> {write_highlight(page, args.text, words, scores, title)}")
    return done


def _attributions(args, loaded, tokenizer, out, page) -> list[str]:
    from attention_lab.interpret import group_words, word_scores
    from attention_lab.interpret.attributions import gradient_x_input, integrated_gradients
    from attention_lab.interpret.highlight import write_highlight
    from attention_lab.models.bert import HEADS
    from attention_lab.viz.attention import plot_token_scores, save_figure

    if loaded.head not in HEADS:  # attributions explain a classifier's logit
        raise AttentionLabError(
            f"--method {args.method} needs a fine-tuned classifier and {args.model} is an "
            "encoder only; pass the --out folder of `attention-lab finetune`"
        )
    options = {"target": args.target, "max_len": args.max_len}
    if args.method == "integrated-gradients":
        result = integrated_gradients(
            loaded.model, tokenizer, args.text, steps=args.steps, **options
        )
        check = (
            f"; sum {result.scores.sum():+.4f} vs f(x) - f(baseline) "
            f"{result.output - result.baseline_output:+.4f} (error {result.completeness_error:.2%}"
            f"{', raise --steps' if result.completeness_error > 0.01 else ''})"
        )
    else:
        result = gradient_x_input(loaded.model, tokenizer, args.text, **options)
        check = ""
    words = group_words(tokenizer, args.text, result.input_ids)
    scores = word_scores(words, result.scores)
    title = f"{args.method} to label {result.target}, log-odds {result.output:+.3f}"
    done = [f"{args.method}: label {result.target}, {len(result.tokens)} tokens{check}"]
    if out is not None:
        fig = plot_token_scores([w.text for w in words], scores, title)
        done.append(f"highlighted text -> {save_figure(fig, out)}")
    if page is not None:
        done.append(f"highlighted text -> {write_highlight(page, args.text, words, scores, title)}")
    return done


def run(args) -> int:
    from attention_lab.training.run_folder import load_model
    from attention_lab.viz.attention import attention_maps

    out, page = _check_arguments(args)
    loaded = load_model(args.model)  # a run folder gives its classifier, others an encoder
    tokenizer = loaded.tokenizer()
    if args.method in ATTRIBUTIONS:
        lines = _attributions(args, loaded, tokenizer, out, page)
    else:
        maps = attention_maps(
            loaded.encoder,
            tokenizer,
            args.text,
            max_len=args.max_len,
            queries_and_keys=page is not None and args.method == "raw",
        )
        maps.check(args.layer, args.head)
        if args.method == "raw":
            lines = _raw(args, maps, out, page)
        else:
            lines = _rollout(args, maps, tokenizer, out, page)
        lines.insert(0, f"{len(maps.tokens)} tokens (--max-len {args.max_len})")
    for line in lines:
        print(line)
    return 0
