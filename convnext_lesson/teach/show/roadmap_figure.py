"""The roadmap drawn as the paper's Figure 2 does: one row per step, the paper's top-1 beside ours.

The paper's numbers on the left, ours on the right (mean of the seeds, the bar spanning lowest to highest).

Figure 2 reads top to bottom, ResNet-50 to ConvNeXt-T, so a step's effect is the shift from the
row above. Our runs are small (a scaled-down network, a small dataset, low resolution): compare our
rows with each other, never with the paper's ImageNet numbers.
"""
from __future__ import annotations

from statistics import mean

from ...model.roadmap import roadmap_steps


def run_label(records: list[dict]) -> str:
    """Where runs came from, in one line: device, profile, dataset, resolution, epochs, seeds."""
    def joined(values):
        return "/".join(str(v) for v in sorted(set(values)))

    seeds = sorted({r["seed"] for r in records})
    modern = [r["epochs"] for r in records if r["recipe"] == "modern"]
    original = [r["epochs"] for r in records if r["recipe"] == "original"]
    epochs = " + ".join(filter(None, (modern and f"{joined(modern)} epochs",
                                      original and f"step 0: {joined(original)}")))
    return (f"{joined(r['device'] for r in records)}, profile {joined(r['profile'] for r in records)}, "
            f"{joined(r['dataset']['name'] for r in records)} at {joined(r['image_size'] for r in records)} px, "
            f"{epochs}, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")


def top1_by_step(records: list[dict]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in records:
        out.setdefault(r["step"], []).append(r["top1"])
    return out


def roadmap_figure(records=(), own=(), upto: int | None = None, regime: str = "resnet50", paper_start=()):
    """A matplotlib Figure: the paper's top-1 per step (left), ours (right).

    ``records``: committed reference runs (``reference_results``); ``own``: this session's runs
    (``RunResult`` or records), drawn as crosses. ``upto``: the last step shown (default: all).
    ``paper_start``: top-1 of our step 16 trained with the paper's start (ConvNeXt's init, layer scale 1e-6),
    drawn on step 16's row beside our step 16, which the small profiles start with Kaiming's init.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [s for s in roadmap_steps(regime) if upto is None or s.index <= upto]
    records = [r for r in records if r["regime"] == regime]
    own = [getattr(r, "record", r) for r in own]
    rows = {s.index: len(steps) - 1 - i for i, s in enumerate(steps)}  # step 0 on top
    fig = Figure(figsize=(11, max(3.4, 1.8 + 0.3 * len(steps))))
    FigureCanvasAgg(fig)  # no pyplot: no global state, works headless and in notebooks
    paper_ax, ours_ax = fig.subplots(1, 2, sharey=True)

    for s in steps:
        y = rows[s.index]
        paper_ax.plot(s.paper_top1, y, "o", color="C0", markerfacecolor="C0" if s.adopted else "white")
        paper_ax.annotate(f"{s.paper_top1:.1f}", (s.paper_top1, y), xytext=(6, -3), textcoords="offset points",
                          fontsize=8)
    paper_ax.set_yticks(list(rows.values()),
                        [f"{s.index} · {s.label}" + ("" if s.adopted else " (branch)") for s in steps], fontsize=8)
    paper_ax.set_title("paper: ImageNet-1K, 224 px, 300 epochs\n(top-1, mean of 3 seeds)", fontsize=10)
    paper_ax.set_xlabel("top-1 (%)")

    reference = top1_by_step(records)
    for s in steps:
        tops = reference.get(s.index)
        if not tops:
            continue
        y, m = rows[s.index], mean(tops)
        ours_ax.errorbar(m, y, xerr=[[m - min(tops)], [max(tops) - m]], fmt="o", color="C2", capsize=3,
                         markerfacecolor="C2" if s.adopted else "white")
        ours_ax.annotate(f"{m:.1f}" + (f" (n={len(tops)})" if len(tops) > 1 else ""), (max(tops), y),
                         xytext=(6, -3), textcoords="offset points", fontsize=8)
    if paper_start and 16 in rows:
        y, m = rows[16], mean(paper_start)
        ours_ax.errorbar(m, y, xerr=[[m - min(paper_start)], [max(paper_start) - m]], fmt="D", color="C3", capsize=3,
                         markerfacecolor="white")
        ours_ax.annotate(f"{m:.1f}", (min(paper_start), y), xytext=(-26, -3), textcoords="offset points", fontsize=8,
                         color="C3")
    for r in own:
        if r["step"] in rows:
            ours_ax.plot(r["top1"], rows[r["step"]], "x", color="C1", markersize=8)
    handles = []
    if records:
        handles.append(ours_ax.errorbar([], [], xerr=[], fmt="o", color="C2", label="reference: " + run_label(records)))
    if paper_start and 16 in rows:
        handles.append(ours_ax.errorbar([], [], xerr=[], fmt="D", color="C3", markerfacecolor="white",
                                        label=f"step 16 with the paper's start (ConvNeXt's init, layer scale 1e-6), "
                                              f"{len(paper_start)} seeds; our step 16 starts with Kaiming's init"))
    if own:
        handles.append(ours_ax.plot([], [], "x", color="C1", label="your runs: " + run_label(own))[0])
    if handles:
        ours_ax.set_title("ours: a small network on small data\n(compare rows with each other, not with the paper)",
                          fontsize=10)
        ours_ax.set_xlabel("top-1 (%)")
    else:
        ours_ax.text(0.5, 0.5, "no runs of ours yet", ha="center", va="center", transform=ours_ax.transAxes)
        ours_ax.set_title("ours", fontsize=10)
    for ax in (paper_ax, ours_ax):
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(steps) - 0.3)
        ax.margins(x=0.12)  # room for the numbers beside the points
    legend_height = (0.1 + 0.2 * len(handles)) / fig.get_figheight() if handles else 0  # inches -> fraction
    if handles:  # where our runs come from, under both panels
        fig.legend(handles=handles, fontsize=8, loc="lower center", frameon=False)
    fig.tight_layout(rect=(0, legend_height, 1, 1))
    return fig
