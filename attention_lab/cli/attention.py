"""``attention-lab attention --model PATH "text" --out FILE.png``: BERT attention heatmaps."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "attention",
        help="plot BERT attention for a text as heatmaps",
        description="With --layer and --head: that head as a token x token heatmap; with "
        "--layer only: every head of the layer as a grid; with neither: the attention from "
        "[CLS] across all layers (mean over heads). Layers and heads count from 0; WordPiece "
        "tokens label the axes and padding is left out.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="finetune --out folder, Hugging Face BERT directory or hub id, or a folder from "
        "`attention-lab convert`",
    )
    parser.add_argument("text", help="the text to encode")
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--head", type=int, default=None)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from attention_lab.errors import AttentionLabError
    from attention_lab.training.finetune import check_max_len, load_encoder
    from attention_lab.viz.attention import (
        attention_maps,
        plot_cls_across_layers,
        plot_head,
        plot_layer,
        save_figure,
    )

    if args.head is not None and args.layer is None:
        raise AttentionLabError("--head needs --layer (which layer's head to plot)")
    bert, tokenizer = load_encoder(args.model)
    check_max_len(args.max_len, bert.config)
    maps = attention_maps(bert, tokenizer, args.text, max_len=args.max_len)
    maps.check(args.layer, args.head)
    import matplotlib.pyplot as plt

    if args.layer is None:
        fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(maps.tokens)), 0.5 * maps.num_layers + 2))
        plot_cls_across_layers(maps, ax=ax)
        what = f"[CLS] attention across {maps.num_layers} layers"
    elif args.head is None:
        fig = plot_layer(maps, args.layer)
        what = f"all {maps.num_heads} heads of layer {args.layer}"
    else:
        size = max(5, 0.3 * len(maps.tokens))
        fig, ax = plt.subplots(figsize=(size, size))
        plot_head(maps, args.layer, args.head, ax=ax)
        what = f"layer {args.layer}, head {args.head}"
    path = save_figure(fig, Path(args.out))
    print(f"{what}, {len(maps.tokens)} tokens -> {path}")
    return 0
