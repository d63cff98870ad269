"""The roadmap, climbed: train steps in order, then tabulate and plot them beside the paper.

Steps whose result already exists are skipped, so a ladder that was stopped picks
up where it was (an unfinished step resumes from its checkpoint).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import results
from .profiles import get_profile
from ..model.roadmap import get_step, roadmap_steps
from .plan import default_out_dir
from .run import train


@dataclass
class LadderResult:
    records: list[dict]
    table: str
    table_path: Path
    plot_path: Path


def parse_steps(steps, regime: str = "resnet50") -> list:
    """Steps as a list of indices/names, or a string such as ``"0-3,9,16"``; None: every step."""
    if steps is None:
        return list(roadmap_steps(regime))
    valid = ", ".join(f"{s.index}={s.name}" for s in roadmap_steps(regime))
    text = steps
    if isinstance(steps, str):
        items = []
        for part in steps.replace(" ", ",").split(","):
            if not part:
                continue
            if "-" in part and all(p.isdigit() for p in part.split("-", 1)):
                lo, hi = (int(p) for p in part.split("-", 1))
                if lo > hi:
                    raise ValueError(f"step range {part!r} is reversed: write it low to high, e.g. {hi}-{lo}; "
                                     f"valid steps: {valid}")
                items.extend(range(lo, hi + 1))
            else:
                items.append(part)
        steps = items
    if not steps:
        raise ValueError(f"no steps given ({text!r}); name some, e.g. \"0-3,9,16\"; valid steps: {valid}")
    by_index = {get_step(s, regime).index: get_step(s, regime) for s in steps}
    return [by_index[i] for i in sorted(by_index)]


def ladder(profile=None, steps=None, dataset=None, regime: str = "resnet50", data_dir=None, out_dir=None,
           seed: int = 0, download: bool = False, progress: bool = True, verbose: bool = True,
           **train_kwargs) -> LadderResult:
    """Train ``steps`` (default: all) in order under one profile; write ``ladder.md`` and ``roadmap.png``."""
    prof = get_profile(profile)
    dataset = dataset or prof.dataset
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir()
    chosen = parse_steps(steps, regime)
    records = []
    for st in chosen:  # train() finds a finished step (in the folder its settings give) and loads it
        run = train(st.index, profile=prof, dataset=dataset, regime=regime, data_dir=data_dir, out_dir=out_dir,
                    seed=seed, resume=True, download=download, progress=progress, verbose=verbose, **train_kwargs)
        if run.record is None:  # a non-zero rank under torchrun
            continue
        records.append(run.record)
    folder = out_dir / f"{regime}-{prof.name}-{dataset}"
    table = results.summary_table(records)
    table_path = folder / "ladder.md"
    plot_path = folder / "roadmap.png"
    if records:
        folder.mkdir(parents=True, exist_ok=True)
        table_path.write_text(f"# Roadmap ({regime}), profile {prof.name}, {dataset}\n\n{table}\n", encoding="utf-8")
        plot_roadmap(records, regime).savefig(plot_path, dpi=120, bbox_inches="tight")
        if verbose:
            print(table)
            print(f"table: {table_path}\nplot: {plot_path}")
    return LadderResult(records, table, table_path, plot_path)


def plot_roadmap(records: list[dict], regime: str = "resnet50"):
    """Top-1 against GFLOPs: the paper's roadmap (left) beside ours (right). Returns a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)  # draws without pyplot: no global state, works headless and in notebooks
    left, right = fig.subplots(1, 2)
    paper = [(s.index, s.paper_gflops, s.paper_top1, s.adopted) for s in roadmap_steps(regime)]
    ours = sorted(((r["step"], r["gflops"]["trained_resolution"], r["top1"], get_step(r["step"], regime).adopted)
                   for r in records), key=lambda t: t[0])
    _draw(left, paper, "C0", "paper: ImageNet-1K, 224 px", "GFLOPs at 224 px", regime)
    if records:
        r0 = records[0]
        title = f"ours: {r0['dataset']['name']}, {r0['image_size']} px, profile {r0['profile']}"
        _draw(right, ours, "C1", title, f"GFLOPs at {r0['image_size']} px (trained network)", regime)
    fig.suptitle(f"The roadmap ({regime}): top-1 against GFLOPs; hollow markers are branches not adopted, "
                 "dotted lines skip steps not run")
    return fig


def _draw(ax, points, color, title, xlabel, regime: str = "resnet50"):
    """``points``: (step, GFLOPs, top-1, adopted). Adopted steps are joined in roadmap order (through the mean
    of a step's runs): solid from a step to the next one, dotted where steps in between are missing."""
    order = [s.index for s in roadmap_steps(regime) if s.adopted]
    runs: dict[int, list[tuple[float, float]]] = {}
    for i, g, t, a in points:
        if a:
            runs.setdefault(order.index(i), []).append((g, t))
    means = sorted((k, sum(g for g, _ in v) / len(v), sum(t for _, t in v) / len(v)) for k, v in runs.items())
    for (k0, g0, t0), (k1, g1, t1) in zip(means, means[1:]):
        ax.plot([g0, g1], [t0, t1], "-" if k1 == k0 + 1 else ":", color=color, alpha=0.4)
    for index, g, t, a in points:
        ax.plot(g, t, "o", color=color, markerfacecolor=color if a else "white")
        ax.annotate(str(index), (g, t), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel="top-1 (%)")
    ax.grid(alpha=0.3)
