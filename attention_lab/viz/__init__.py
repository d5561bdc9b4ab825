"""Pictures of what the models attend to: labelled heatmaps (attention_lab.viz.heatmap) and the
plots built on them. Matplotlib is imported only when a plot is drawn."""
