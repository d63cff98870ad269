"""What each roadmap step did to top-1, ours beside the paper's, and whether ours is more than noise.

A step's effect is its top-1 minus that of the step it changes (``Step.parent``, the last
adopted step before it: kernel 5 changes step 7, kernels 9 and 11 change step 9, kernel 7). Our noise comes from seed repeats: the pooled standard deviation
``s`` of every step run with two or more seeds. The difference of two means of ``n1`` and ``n2``
seeds then has standard deviation ``s * sqrt(1/n1 + 1/n2)``; an effect within twice that is
"inside the noise". The paper's numbers are means of 3 seeds on ImageNet-1K; ours are a small
network on a small dataset, so only the signs are compared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, variance

from ...model.roadmap import get_step, roadmap_steps


@dataclass(frozen=True)
class StepEffect:
    index: int
    label: str
    parent: int
    paper: float  # the paper's change in top-1 (points)
    ours: float  # our change in top-1 (points, difference of seed means)
    band: float | None  # twice the standard deviation of ``ours`` (None: no seed repeats anywhere)
    seeds: tuple[int, int]  # runs behind the parent's mean and the step's

    @property
    def verdict(self) -> str:
        if self.band is not None and abs(self.ours) <= self.band:
            return "inside the noise"
        sign = "same sign as the paper" if self.ours * self.paper > 0 else "opposite sign to the paper"
        return sign if self.band is not None else f"{sign}, noise not measured yet"


def label_as_run(step, records: list[dict]) -> str:
    """A step's label, with what its runs changed when they all started it differently from the paper's build
    (step 16 under the short-run start: Kaiming init, no layer scale)."""
    runs = [r for r in records if r["step"] == step.index]
    configs = [r.get("config") or {} for r in runs]
    starts = {(c.get("init", step.config.init), c.get("layer_scale", step.config.layer_scale)) for c in configs}
    if len(starts) == 1 and starts != {(step.config.init, step.config.layer_scale)}:
        init, scale = next(iter(starts))
        name = {"kaiming": "Kaiming", "trunc_normal": "ConvNeXt's"}.get(init, init)
        return f"{step.label} ({name} init, {'no layer scale' if scale is None else f'layer scale {scale:g}'})"
    return step.label


def pooled_std(tops: dict[int, list[float]]) -> float | None:
    """Pooled seed-to-seed standard deviation over steps with two or more seeds (None if there are none)."""
    repeated = [t for t in tops.values() if len(t) > 1]
    if not repeated:
        return None
    dof = sum(len(t) - 1 for t in repeated)
    return math.sqrt(sum(variance(t) * (len(t) - 1) for t in repeated) / dof)


def step_effects(records: list[dict], regime: str = "resnet50") -> list[StepEffect]:
    """One row per step whose run and whose parent's run both exist."""
    tops: dict[int, list[float]] = {}
    for r in records:
        if r["regime"] == regime:
            tops.setdefault(r["step"], []).append(r["top1"])
    s = pooled_std(tops)
    rows = []
    for step in roadmap_steps(regime):
        if step.parent is None or step.index not in tops or step.parent not in tops:
            continue
        before, after = tops[step.parent], tops[step.index]
        band = 2 * s * math.sqrt(1 / len(before) + 1 / len(after)) if s is not None else None
        paper = step.paper_top1 - get_step(step.parent, regime).paper_top1
        rows.append(StepEffect(step.index, label_as_run(step, [r for r in records if r["regime"] == regime]),
                               step.parent, paper, mean(after) - mean(before), band,
                               (len(before), len(after))))
    return rows


def effects_table(records: list[dict], regime: str = "resnet50") -> str:
    """The effects as a Markdown table (README, notebook 08)."""
    lines = ["| step | change | from step | paper | ours | noise band (2 sd) | seeds | reading |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for e in step_effects(records, regime):
        band = f"±{e.band:.1f}" if e.band is not None else "unknown"
        lines.append(f"| {e.index} | {e.label} | {e.parent} | {e.paper:+.2f} | {e.ours:+.1f} | {band} | "
                     f"{e.seeds[0]} / {e.seeds[1]} | {e.verdict} |")
    return "\n".join(lines)
