"""Three blocks side by side (ResNet-50, Swin-T, ConvNeXt-T, stage 1) and the paper's numbers for the three networks.

``three_blocks_figure()`` draws the blocks as the paper's Figure 4 lays them out: one column per block,
layers as boxes coloured by their job (spatial mixing, norm, channel MLP, activation), residual adds as
circles. ``PAPER_COMPARISON`` holds the paper's printed numbers for the three networks, one row per
quantity with the table it comes from; ``print_paper_comparison()`` prints them.
"""
from __future__ import annotations

# What each layer does, and its colour: the point of the picture is which jobs line up across columns.
ROLES = {
    "spatial": ("mixes across pixels", "#f4a261"),
    "norm": ("normalisation", "#8ecae6"),
    "channels": ("mixes channels (1x1 / Linear)", "#bde0a8"),
    "act": ("activation", "#e5e5e5"),
}

# Each block top to bottom: (label, role) for a layer, "+" for a residual add (its shortcut starts at the
# block's input or just after the previous add).
BLOCKS = {
    "ResNet-50 bottleneck": [
        ("1x1, 256 → 64", "channels"), ("BN", "norm"), ("ReLU", "act"),
        ("3x3, 64", "spatial"), ("BN", "norm"), ("ReLU", "act"),
        ("1x1, 64 → 256", "channels"), ("BN", "norm"), "+", ("ReLU", "act"),
    ],
    "Swin-T block": [
        ("LN", "norm"), ("window MSA, 96", "spatial"), "+",
        ("LN", "norm"), ("MLP: Linear 96 → 384", "channels"), ("GELU", "act"),
        ("Linear 384 → 96", "channels"), "+",
    ],
    "ConvNeXt-T block": [
        ("d7x7, 96", "spatial"), ("LN", "norm"), ("1x1, 96 → 384", "channels"), ("GELU", "act"),
        ("1x1, 384 → 96", "channels"), "+",
    ],
}


def three_blocks_figure(blocks: dict | None = None):
    """A matplotlib Figure: one titled column per block of ``blocks`` (default: ``BLOCKS``), boxes and arrows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Patch

    blocks = BLOCKS if blocks is None else blocks
    rows = max(len(layers) for layers in blocks.values()) + 1  # + the input arrow
    fig = Figure(figsize=(3.1 * len(blocks), 0.45 * rows + 1.0), dpi=90)
    FigureCanvasAgg(fig)  # no pyplot: no global state, works headless and in notebooks
    axes = fig.subplots(1, len(blocks))
    axes = list(axes) if len(blocks) > 1 else [axes]
    arrow = dict(arrowstyle="-|>", color="#444444", lw=1.0, shrinkA=0, shrinkB=0)
    for ax, (title, layers) in zip(axes, blocks.items()):
        ax.set_title(title, fontsize=10, fontweight="bold")
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-rows + 0.2, 0.9)
        ax.axis("off")
        y, skip_from = 0.0, 0.0  # the top of the drawing: the block's input
        ax.text(0, 0.55, "input", ha="center", va="center", fontsize=8, color="#444444")
        for layer in layers:
            below = y - 1.0
            ax.annotate("", (0, below + 0.3), (0, y - 0.3 if y < 0 else 0.35), arrowprops=arrow)
            if layer == "+":
                ax.text(0, below, "+", ha="center", va="center", fontsize=10,
                        bbox=dict(boxstyle="circle,pad=0.15", facecolor="white", edgecolor="#444444", lw=1.0))
                # the shortcut: from where the branch started, around the right side, into the add
                start = skip_from - (0.3 if skip_from < 0 else -0.2)
                ax.plot([0, 1.35, 1.35], [start, start, below], color="#444444", lw=1.0)
                ax.annotate("", (0.2, below), (1.35, below), arrowprops=arrow)
                skip_from = below
            else:
                label, role = layer
                ax.add_patch(FancyBboxPatch((-1.05, below - 0.3), 2.1, 0.6, boxstyle="round,pad=0.02",
                                            facecolor=ROLES[role][1], edgecolor="#444444", lw=0.8))
                ax.text(0, below, label, ha="center", va="center", fontsize=8.5)
            y = below
    handles = [Patch(facecolor=colour, edgecolor="#444444", label=text) for text, colour in ROLES.values()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def show_png(fig, dpi: int = 80) -> None:
    """Show ``fig`` in a notebook as a PNG of modest size (works before pyplot has set up inline display)."""
    from IPython.display import Image, display

    from .diagrams import figure_png

    display(Image(data=figure_png(fig, dpi), format="png"))


def text_of(fig) -> dict[str, list[str]]:
    """What ``fig`` says: the column titles, the text inside each column, the legend (for tests and readers)."""
    return {"titles": [ax.get_title() for ax in fig.axes],
            "columns": [[t.get_text() for t in ax.texts if t.get_text()] for ax in fig.axes],
            "legend": [t.get_text() for legend in fig.legends for t in legend.get_texts()]}


NETWORKS = ("ResNet-50", "Swin-T", "ConvNeXt-T")

# The paper's printed numbers: (quantity, table, decimals as printed, {network: value}); a network the
# table gives no number for is absent.
PAPER_COMPARISON = [
    ("ImageNet-1K top-1 (%), original 90-epoch recipe", "Table 10", 2, {"ResNet-50": 76.13}),
    ("ImageNet-1K top-1 (%), step 1 / Swin-T / step 16", "Table 10", 2,
     {"ResNet-50": 78.82, "Swin-T": 81.30, "ConvNeXt-T": 81.97}),
    ("ImageNet-1K top-1 (%), final model", "Table 1", 1, {"ConvNeXt-T": 82.1}),
    ("GFLOPs at 224 px", "Table 10", 2, {"ResNet-50": 4.09, "Swin-T": 4.50, "ConvNeXt-T": 4.49}),
    ("GFLOPs at 224 px", "Table 1", 1, {"ConvNeXt-T": 4.5}),
    ("params (M)", "Table 1", 1, {"ConvNeXt-T": 28.6}),
    ("throughput, V100 (images/s)", "Table 1", 1, {"Swin-T": 757.9, "ConvNeXt-T": 774.7}),
    ("throughput, A100, TF32, channels-last (images/s)", "Table 12", 1, {"Swin-T": 1325.6, "ConvNeXt-T": 1943.5}),
    ("COCO Cascade Mask R-CNN 3x: box AP", "Table 3", 1, {"ResNet-50": 46.3, "Swin-T": 50.4, "ConvNeXt-T": 50.4}),
    ("COCO Cascade Mask R-CNN 3x: GFLOPs at 1280x800", "Table 3", 0,
     {"ResNet-50": 739, "Swin-T": 745, "ConvNeXt-T": 741}),
    ("COCO Cascade Mask R-CNN 3x: frames/s, A100", "Table 3", 1,
     {"ResNet-50": 16.2, "Swin-T": 12.2, "ConvNeXt-T": 13.5}),
    ("COCO Mask R-CNN 3x: box AP", "Table 3", 1, {"Swin-T": 46.0, "ConvNeXt-T": 46.2}),
]


def print_paper_comparison(rows=PAPER_COMPARISON) -> None:
    """The paper's numbers for ResNet-50, Swin-T and ConvNeXt-T, one line per quantity, with its table."""
    print(f"{'paper':50s} {'table':>8s} " + " ".join(f"{n:>10s}" for n in NETWORKS))
    for quantity, table, decimals, values in rows:
        cells = [f"{values[n]:>10.{decimals}f}" if n in values else f"{'-':>10s}" for n in NETWORKS]
        print(f"{quantity:50s} {table:>8s} " + " ".join(cells))
    print("every number as the paper prints it; - : that table gives none for that network")
