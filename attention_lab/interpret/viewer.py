"""An interactive attention viewer: one self-contained HTML file, no network, no CDN.

Three views of one text's :class:`~attention_lab.viz.attention.AttentionMaps`, in the spirit
of bertviz (Vig, 2019, "A Multiscale Visualization of Attention in the Transformer Model"),
written from our models' own outputs:

- **head view**: the tokens twice, queries on the left and keys on the right, a line from
  each query to each key with the opacity of its weight, one colour per head; pick the layer
  and the heads; hover a token to see only its lines (and a key's share of its attention);
- **model view**: every layer × head at once as thumbnails; click one to open it in the head
  view;
- **neuron view** (when the maps carry queries and keys): for one head and one query token,
  every key's products ``q_d · k_d`` per dimension ``d`` of the head, their sum ``q · k``,
  the scaled score ``q · k / √d_k`` and its softmax, which is the attention weight.

The page holds the numbers as little-endian float16 in base64 and draws them with a few
hundred lines of plain JavaScript (SVG for the head view, canvas for the thumbnails). Lines
of weight below 0.01 are not drawn. :func:`write_attention_viewer` writes the file;
:func:`show_attention_viewer` puts the same page in a notebook, inside an ``<iframe>`` so
that two viewers on one page do not share their script.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_write_text

_CSS = """
body { font-family: system-ui, sans-serif; margin: 12px; color: #222; }
h1 { font-size: 17px; margin: 0 0 6px; }
.note { color: #666; font-size: 12px; margin: 4px 0 8px; }
nav button { font-size: 13px; padding: 4px 10px; margin-right: 4px; border: 1px solid #aaa;
  background: #f4f4f4; border-radius: 4px; cursor: pointer; }
nav button.selected { background: #2d6cdf; color: white; border-color: #2d6cdf; }
.controls { margin: 8px 0; font-size: 13px; }
.controls label { margin-right: 10px; }
.head-box { display: inline-block; padding: 1px 5px; margin: 1px; border-radius: 3px;
  color: white; cursor: pointer; font-size: 12px; user-select: none; }
.head-box.off { background: #ccc !important; color: #666; }
svg text.token { font-size: 13px; cursor: default; }
svg text.token.focus { font-weight: bold; }
svg line.attn.dim { visibility: hidden; }
svg rect.share { fill: #2d6cdf; }
.grid { display: grid; gap: 6px; }
.grid figure { margin: 0; text-align: center; font-size: 11px; cursor: pointer; }
.grid canvas { border: 1px solid #ddd; }
.grid figure:hover canvas { border-color: #2d6cdf; }
table.neurons { border-collapse: collapse; font-size: 12px; }
table.neurons td, table.neurons th { padding: 1px 6px; text-align: right; }
table.neurons td.tok { text-align: left; }
.cells { display: flex; }
.cells span { display: inline-block; width: 7px; height: 14px; }
.query-list span { display: inline-block; padding: 1px 4px; margin: 1px; cursor: pointer;
  border: 1px solid #ddd; border-radius: 3px; font-size: 12px; }
.query-list span.selected { background: #2d6cdf; color: white; }
"""

_JS = r"""
(function () {
  "use strict";
  const root = document.getElementById("viewer");
  const D = JSON.parse(document.getElementById("viewer-data").textContent);
  function halfFloats(text) {
    const bytes = atob(text);
    const out = new Float32Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) {
      const h = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
      out[i] = exp === 0 ? sign * Math.pow(2, -14) * (frac / 1024)
        : exp === 31 ? (frac ? NaN : sign * Infinity)
        : sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
    }
    return out;
  }
  const L = D.layers, H = D.heads, N = D.tokens.length, DK = D.head_size;
  const A = halfFloats(D.attention);
  const Q = D.queries ? halfFloats(D.queries) : null;
  const K = D.keys ? halfFloats(D.keys) : null;
  const weight = (l, h, i, j) => A[((l * H + h) * N + i) * N + j];
  const color = (h) => "hsl(" + Math.round((360 * h) / H) + ", 70%, 45%)";
  const state = { layer: 0, heads: new Set([...Array(H).keys()]), query: 0 };
  const SVG = "http://www.w3.org/2000/svg";
  function el(tag, attrs, parent, ns) {
    const node = ns ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  // Views and tabs ------------------------------------------------------------------------
  const views = { head: root.querySelector("#head-view"), model: root.querySelector("#model-view"),
                  neuron: root.querySelector("#neuron-view") };
  function show(name) {
    for (const [key, node] of Object.entries(views)) node.hidden = key !== name;
    for (const b of root.querySelectorAll("nav button")) {
      b.classList.toggle("selected", b.dataset.view === name);
    }
    if (name === "model") drawModel();
    if (name === "neuron") drawNeuron();
    if (name === "head") drawHead();
  }
  for (const b of root.querySelectorAll("nav button")) {
    b.addEventListener("click", () => show(b.dataset.view));
  }
  if (!Q) root.querySelector('nav button[data-view="neuron"]').hidden = true;

  // Head view -----------------------------------------------------------------------------
  const layerSelect = root.querySelector("#layer-select");
  for (let l = 0; l < L; l++) el("option", { value: l }, layerSelect).textContent = "layer " + l;
  layerSelect.addEventListener("change", () => { state.layer = +layerSelect.value; drawHead(); });
  const boxes = root.querySelector("#head-boxes");
  for (let h = 0; h < H; h++) {
    const box = el("span", { class: "head-box", "data-head": h }, boxes);
    box.textContent = "head " + h;
    box.style.background = color(h);
    box.addEventListener("click", () => {
      if (state.heads.has(h)) state.heads.delete(h); else state.heads.add(h);
      drawHead();
    });
  }
  root.querySelector("#all-heads").addEventListener("click", () => {
    state.heads = new Set([...Array(H).keys()]); drawHead();
  });
  root.querySelector("#no-heads").addEventListener("click", () => {
    state.heads = new Set(); drawHead();
  });
  const svg = root.querySelector("#head-svg");
  const ROW = 20, LEFT = 130, RIGHT = 330, TOP = 14;
  function drawHead() {
    layerSelect.value = state.layer;
    for (const box of boxes.children) {
      box.classList.toggle("off", !state.heads.has(+box.dataset.head));
    }
    svg.setAttribute("data-layer", state.layer);
    svg.setAttribute("height", TOP + ROW * N);
    svg.replaceChildren();
    const shares = el("g", {}, svg, true), lines = el("g", {}, svg, true);
    for (const h of [...state.heads].sort((a, b) => a - b)) {
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          const w = weight(state.layer, h, i, j);
          if (w < 0.01) continue;
          el("line", { class: "attn", x1: LEFT + 6, y1: TOP + ROW * i, x2: RIGHT - 6,
                       y2: TOP + ROW * j, stroke: color(h), "stroke-width": 2,
                       "stroke-opacity": w.toFixed(3), "data-q": i, "data-k": j, "data-head": h },
             lines, true);
        }
      }
    }
    for (let i = 0; i < N; i++) {
      for (const side of ["left", "right"]) {
        const t = el("text", { class: "token " + side, "data-index": i, "data-side": side,
                               x: side === "left" ? LEFT : RIGHT, y: TOP + ROW * i + 4,
                               "text-anchor": side === "left" ? "end" : "start" }, svg, true);
        t.textContent = D.tokens[i];
        t.addEventListener("mouseenter", () => focus(side, i, shares));
        t.addEventListener("mouseleave", () => unfocus(shares));
      }
    }
  }
  function focus(side, i, shares) {
    const mine = side === "left" ? "data-q" : "data-k";
    for (const line of svg.querySelectorAll("line.attn")) {
      line.classList.toggle("dim", +line.getAttribute(mine) !== i);
    }
    for (const t of svg.querySelectorAll("text.token")) {
      t.classList.toggle("focus", t.dataset.side === side && +t.dataset.index === i);
    }
    shares.replaceChildren();
    if (side !== "left" || !state.heads.size) return;
    for (let j = 0; j < N; j++) {  // the mean weight of the selected heads, as a bar
      let w = 0;
      for (const h of state.heads) w += weight(state.layer, h, i, j);
      w /= state.heads.size;
      el("rect", { class: "share", x: RIGHT + 110, y: TOP + ROW * j - 7, height: 10,
                   width: (60 * w).toFixed(1), "data-k": j }, shares, true);
    }
  }
  function unfocus(shares) {
    for (const line of svg.querySelectorAll("line.attn")) line.classList.remove("dim");
    for (const t of svg.querySelectorAll("text.token")) t.classList.remove("focus");
    shares.replaceChildren();
  }

  // Model view ----------------------------------------------------------------------------
  const grid = root.querySelector("#model-grid");
  grid.style.gridTemplateColumns = "repeat(" + H + ", 84px)";
  let modelDrawn = false;
  function drawModel() {
    if (modelDrawn) return;
    modelDrawn = true;
    const size = 80, gap = Math.max(size / Math.max(N, 1), 0.5);
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const fig = el("figure", { "data-layer": l, "data-head": h }, grid);
        const canvas = el("canvas", { width: size, height: size }, fig);
        el("figcaption", {}, fig).textContent = "L" + l + " H" + h;
        const ctx = canvas.getContext("2d");
        ctx.strokeStyle = color(h);
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            const w = weight(l, h, i, j);
            if (w < 0.01) continue;
            ctx.globalAlpha = w;
            ctx.beginPath();
            ctx.moveTo(12, gap * (i + 0.5));
            ctx.lineTo(size - 12, gap * (j + 0.5));
            ctx.stroke();
          }
        }
        fig.addEventListener("click", () => {
          state.layer = l; state.heads = new Set([h]); show("head");
        });
      }
    }
  }

  // Neuron view ---------------------------------------------------------------------------
  const nLayer = root.querySelector("#neuron-layer"), nHead = root.querySelector("#neuron-head");
  for (let l = 0; l < L; l++) el("option", { value: l }, nLayer).textContent = "layer " + l;
  for (let h = 0; h < H; h++) el("option", { value: h }, nHead).textContent = "head " + h;
  nLayer.addEventListener("change", drawNeuron);
  nHead.addEventListener("change", drawNeuron);
  const queryList = root.querySelector("#query-list");
  D.tokens.forEach((token, i) => {
    const span = el("span", { "data-index": i }, queryList);
    span.textContent = token;
    span.addEventListener("click", () => { state.query = i; drawNeuron(); });
  });
  function drawNeuron() {
    if (!Q) return;
    const l = +nLayer.value, h = +nHead.value, i = state.query;
    for (const s of queryList.children) s.classList.toggle("selected", +s.dataset.index === i);
    const vec = (X, t) => X.subarray(((l * H + h) * N + t) * DK, ((l * H + h) * N + t + 1) * DK);
    const q = vec(Q, i), products = [], scores = [];
    let largest = 1e-9;
    for (let j = 0; j < N; j++) {
      const k = vec(K, j), row = new Float32Array(DK);
      let dot = 0;
      for (let d = 0; d < DK; d++) {
        row[d] = q[d] * k[d];
        dot += row[d];
        largest = Math.max(largest, Math.abs(row[d]));
      }
      products.push(row);
      scores.push(dot);
    }
    const scaled = scores.map((s) => s / Math.sqrt(DK)), top = Math.max(...scaled);
    const exps = scaled.map((s) => Math.exp(s - top)), total = exps.reduce((a, b) => a + b, 0);
    const body = root.querySelector("#neuron-table tbody");
    body.replaceChildren();
    for (let j = 0; j < N; j++) {
      const tr = el("tr", { "data-k": j }, body);
      el("td", { class: "tok" }, tr).textContent = D.tokens[j];
      const cells = el("div", { class: "cells" }, el("td", {}, tr));
      for (let d = 0; d < DK; d++) {
        const v = products[j][d] / largest;
        const span = el("span", { title: "d=" + d + ": " + products[j][d].toFixed(3) }, cells);
        span.style.background = v >= 0 ? "rgba(45,108,223," + v.toFixed(3) + ")"
          : "rgba(230,120,20," + (-v).toFixed(3) + ")";
      }
      el("td", {}, tr).textContent = scores[j].toFixed(2);
      el("td", {}, tr).textContent = scaled[j].toFixed(2);
      el("td", { class: "softmax" }, tr).textContent = (exps[j] / total).toFixed(3);
      el("td", { class: "stored" }, tr).textContent = weight(l, h, i, j).toFixed(3);
    }
  }
  show("head");
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head>
<body><div id="viewer">
<h1>{title}</h1>
<div class="note">{note}</div>
<nav><button data-view="head">head view</button><button data-view="model">model view</button>\
<button data-view="neuron">neuron view</button></nav>
<section id="head-view">
<div class="controls"><label>Layer <select id="layer-select"></select></label>
<span id="head-boxes"></span> <button id="all-heads">all heads</button>
<button id="no-heads">none</button></div>
<div class="note">Left: each token as a query; right: as a key. Hover a token to see only its
lines; the bars show the mean weight of the selected heads from a hovered query.</div>
<svg id="head-svg" width="520" height="100"></svg>
</section>
<section id="model-view" hidden>
<div class="note">Every layer (rows) and head (columns); click one to open it in the head
view.</div><div class="grid" id="model-grid"></div>
</section>
<section id="neuron-view" hidden>
<div class="controls"><label>Layer <select id="neuron-layer"></select></label>
<label>Head <select id="neuron-head"></select></label></div>
<div class="note">Pick the query token. Each row is a key: the products q<sub>d</sub>·k<sub>d</sub>
per dimension (blue positive, orange negative), their sum q·k, q·k/√d<sub>k</sub>, its softmax
over the keys, and the attention weight the model returned (they agree to float16
rounding).</div>
<div class="query-list" id="query-list"></div>
<table class="neurons" id="neuron-table"><thead><tr><th>key</th><th>q<sub>d</sub>·k<sub>d</sub></th>
<th>q·k</th><th>/√d<sub>k</sub></th><th>softmax</th><th>attention</th></tr></thead>
<tbody></tbody></table>
</section>
</div>
<script type="application/json" id="viewer-data">{data}</script>
<script>{js}</script>
</body></html>
"""


def _half_floats(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f2").tobytes()).decode("ascii")


def attention_viewer_html(maps, title: str = "attention viewer") -> str:
    """The viewer page for ``maps`` (:class:`~attention_lab.viz.attention.AttentionMaps`);
    the neuron view appears when the maps carry queries and keys."""
    weights = np.asarray(maps.weights)
    if weights.ndim != 4 or weights.shape[2:] != (len(maps.tokens),) * 2:
        raise AttentionLabError(
            f"attention weights of shape {weights.shape} do not match {len(maps.tokens)} "
            "tokens; expected (layers, heads, tokens, tokens)"
        )
    layers, heads, n, _ = weights.shape
    data = {"tokens": list(maps.tokens), "layers": layers, "heads": heads, "head_size": 0}
    data["attention"] = _half_floats(weights)
    if maps.queries is not None and maps.keys is not None:
        data.update(
            head_size=int(maps.queries.shape[-1]),
            queries=_half_floats(maps.queries),
            keys=_half_floats(maps.keys),
        )
    note = (
        f"{n} tokens, {layers} layers × {heads} heads; padding left out; lines below 0.01 are "
        "not drawn"
    )
    # "<" escaped, so that no token can close the <script> element that holds the data.
    payload = json.dumps(data).replace("<", "\\u003c")
    return _PAGE.format(title=html.escape(title), note=note, css=_CSS, js=_JS, data=payload)


def write_attention_viewer(maps, path: str | os.PathLike, title: str = "attention viewer") -> Path:
    """Write the viewer page to ``path`` (atomically); return the path."""
    from attention_lab.viz.attention import check_output_file

    path = check_output_file(path, "attention.html")
    atomic_write_text(path, attention_viewer_html(maps, title))
    return path


def show_attention_viewer(maps, title: str = "attention viewer", height: int = 640):
    """The viewer for a notebook: ``IPython.display.HTML`` of an ``<iframe>`` holding it."""
    from IPython.display import HTML

    page = html.escape(attention_viewer_html(maps, title), quote=True)
    return HTML(
        f'<div><iframe srcdoc="{page}" style="width: 100%; height: {height}px; border: 1px '
        'solid #ddd" sandbox="allow-scripts"></iframe></div>'
    )
