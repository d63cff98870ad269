"""Step 16 taken apart: which of its five changes costs the ConvNeXt shape its points in a short run.

Step 16 ("sep. d.s. conv") changes five things at once (``roadmap._CONVNEXT_FINAL``): separate downsampling
layers, an LN after the stem and one before the head, layer scale 1e-6, and ConvNeXt's truncated-normal init
(std 0.02, zero bias) instead of Kaiming's. Each *arm* below is step 15 or step 16 with one or two of those
changed, trained like a ladder step (``cpu`` profile, 12 epochs, seeds 0, 1, 2). The hypothesis, the rules
and what the runs would mean were fixed here before any arm was trained (``tools/step16_parts.py`` trains
them); ``reading`` applies the rules to the committed records. An arm's effect is the mean of its seeds
minus the mean of its base step's ladder seeds; the noise band is the ladder's (``teach.readings.step_effects``):
twice the standard deviation of a difference of two means, from the pooled seed-to-seed spread.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

from ...training import paths, results
from ...training.profiles import get_profile
from .step_effects import pooled_std

PARTS_DIR = paths.FOLLOWUPS / "step16-parts"
VARIANTS_DIR = Path(results.REFERENCE_DIR).parent / "variants"
SEEDS = (0, 1, 2)


START_FIELDS = ("init", "layer_scale", "downsampling", "stem_norm", "head_norm")  # what step 16 changes


@dataclass(frozen=True)
class Arm:
    name: str
    step: int  # the base step (15 or 16)
    overrides: dict  # config fields changed from the base step as the paper builds it (ConvNeXt's init, layer scale)
    label: str
    recipe: dict = field(default_factory=dict)

    @property
    def design(self) -> dict:
        """The five fields step 16 changes, as this arm trains them: what identifies its runs, whichever start
        the profile gave the plain step when they were trained."""
        from ...model.roadmap import get_step

        cfg = get_step(self.step).config.replace(**self.overrides)
        return {name: getattr(cfg, name) for name in START_FIELDS}

    def matches(self, record: dict, profile: str = "cpu") -> bool:
        """Whether ``record`` is a run of this arm: its step, its five fields, the profile's recipe."""
        variant = dict(record.get("overrides") or {})
        config = record["config"]
        return (record["step"] == self.step and record["profile"] == profile
                and {k: config.get(k) for k in START_FIELDS} == self.design
                and (variant.get("recipe") or {}) == self.recipe and "profile" not in variant)


# The step-16 arms are compared with ConvNeXt's own start (the ladder's step 16 as the paper builds it);
# the step-15 arms with the ladder's step 15.
CONVNEXT_START = Arm("convnext-start", 16, {}, "step 16 as the paper builds it: ConvNeXt's init, layer scale 1e-6")
ARMS = {a.name: a for a in (
    Arm("kaiming-no-ls", 16, {"init": "kaiming", "layer_scale": None}, "step 16, Kaiming init, no layer scale"),
    Arm("kaiming", 16, {"init": "kaiming"}, "step 16, Kaiming init (layer scale 1e-6 kept)"),
    Arm("no-ls", 16, {"layer_scale": None}, "step 16, no layer scale (ConvNeXt's init kept)"),
    Arm("in-block", 16, {"downsampling": "in_block"}, "step 16, ResNet's in-block downsampling put back"),
    Arm("s15-separate", 15, {"downsampling": "separate"}, "step 15 with separate downsampling layers only"),
    Arm("s15-trunc-normal", 15, {"init": "trunc_normal"}, "step 15 with ConvNeXt's init only"),
)}

HYPOTHESIS = (
    "Step 16 loses its points at small scale through how it starts, not through what it is. ConvNeXt's "
    "truncated-normal init (std 0.02) and layer scale 1e-6 start every residual branch at 1e-8 to 3e-7 of its "
    "shortcut (step 15: 0.4 to 2.6), and AdamW with weight decay 0.05 at lr 2e-3 needs on the order of "
    "1 / (lr x weight decay) = 10,000 steps to forget an init's scale, where a 12-epoch cpu run has 1,764 (the "
    "paper's runs about 94,000). The separate downsampling layers and the two extra LNs, the paper's step, "
    "cost little.")

RULE = (
    "With D the ladder's deficit (step 15's mean minus step 16's) and every figure a mean of three seeds: the "
    "hypothesis holds if (a) step 16 with Kaiming init and no layer scale wins back at least three quarters of "
    "D, (b) step 15 with separate downsampling alone loses at most a quarter of D, and (c) step 16 with in-block "
    "downsampling put back wins back less than a quarter of D. It fails if Kaiming init without layer scale "
    "wins back less than a quarter of D, or if separate downsampling alone costs step 15 more than half of D. "
    "Otherwise the init and the downsampling share the loss.")

START_RULE = (
    "Which part of the start carries it (read only if the hypothesis holds), with R the points that Kaiming init "
    "without layer scale wins back: the init carries it if Kaiming init alone (layer scale kept) wins back at "
    "least three quarters of R; layer scale carries it if dropping layer scale alone does; both are needed if "
    "each alone wins back less than half of R; otherwise they share it.")

DECISION_RULE = (
    "The init of the small profiles, decided for every step at once: if the hypothesis holds, the small "
    "profiles (smoke, cpu, colab) initialise every step with Kaiming's init (steps 0-15 already do), the full "
    "profile keeps ConvNeXt's, and the roadmap shows the init and layer scale as their own change after the "
    "paper's step. Layer scale 1e-6 stays in the small profiles' step 16 if Kaiming init alone is within the "
    "noise band of Kaiming init without layer scale; otherwise the small profiles train without it too. Either "
    "way the arm with that configuration is step 16's retrained run, seed for seed, and every place that shows "
    "step 16 says which init it was trained with.")


HYPOTHESIS_ARMS = ("kaiming-no-ls", "s15-separate", "in-block")  # what RULE reads
START_ARMS = ("kaiming-no-ls", "kaiming", "no-ls")  # what START_RULE reads


@dataclass(frozen=True)
class ArmResult:
    arm: Arm
    top1: tuple[float, ...]  # one per seed found, in seed order
    base: tuple[float, ...]  # the base step's ladder seeds

    @property
    def effect(self) -> float:
        return mean(self.top1) - mean(self.base)


def arm_records(arm: Arm, folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, profile: str = "cpu",
                ladder: Path = results.REFERENCE_DIR) -> dict:
    """{seed: record} of an arm at the profile's own epochs and image size: its own runs, a notebook experiment
    with the same design (step 16 without layer scale is notebook 08's), or ladder runs of that design."""
    size = get_profile(profile)
    found = (results.find_records(Path(folder) / arm.name) + results.find_records(variants)
             + results.find_records(ladder))
    return {r["seed"]: r for r in sorted(found, key=lambda r: r["seed"]) if arm.matches(r, profile)
            and r["epochs"] == size.epochs and r["image_size"] == size.image_size}


def base_tops(arm: Arm, folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
              profile: str = "cpu") -> list[float]:
    """Top-1 of what an arm is compared with: ConvNeXt's own start for step 16, the ladder's step 15."""
    base = CONVNEXT_START if arm.step == 16 else Arm("step15", 15, {}, "step 15")
    return [r["top1"] for _, r in sorted(arm_records(base, folder, variants, profile, ladder).items())]


def ladder_tops(ladder: Path = results.REFERENCE_DIR, profile: str = "cpu") -> dict[int, list[float]]:
    tops: dict[int, list[float]] = {}
    for r in results.find_records(ladder):
        if r["profile"] == profile and r["regime"] == "resnet50":
            tops.setdefault(r["step"], []).append(r["top1"])
    return tops


def arm_results(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
                profile: str = "cpu") -> dict[str, ArmResult]:
    """The arms with at least one run, beside what each is compared with."""
    out = {}
    for arm in ARMS.values():
        runs = arm_records(arm, folder, variants, profile, ladder)
        base = base_tops(arm, folder, variants, ladder, profile)
        if runs and base:
            out[arm.name] = ArmResult(arm, tuple(r["top1"] for _, r in sorted(runs.items())), tuple(base))
    return out


def band(n_arm: int, n_base: int, ladder: Path = results.REFERENCE_DIR, profile: str = "cpu") -> float:
    """Twice the standard deviation of a difference of means of ``n_arm`` and ``n_base`` seeds (ladder spread)."""
    s = pooled_std(ladder_tops(ladder, profile)) or 0.0
    return 2 * s * math.sqrt(1 / n_arm + 1 / n_base)


def read_hypothesis(deficit: float, won_back: dict[str, float]) -> str:
    """The rule as code. ``deficit``: step 15 minus step 16; ``won_back``: each arm's effect (arm minus its base,
    so a loss of step 15's arm is negative)."""
    a, b, c = won_back["kaiming-no-ls"], -won_back["s15-separate"], won_back["in-block"]
    if a < deficit / 4 or b > deficit / 2:
        return "fails: " + ("Kaiming init without layer scale wins back less than a quarter of the deficit"
                            if a < deficit / 4 else "separate downsampling alone costs step 15 more than half of it")
    if a >= 3 * deficit / 4 and b <= deficit / 4 and c < deficit / 4:
        return (f"holds: Kaiming init without layer scale wins back {a / deficit:.0%} of the deficit; separate "
                f"downsampling alone {'costs' if b > 0 else 'changes'} step 15 by {-b:+.1f} points "
                f"({abs(b) / deficit:.0%} of the deficit); in-block downsampling put back changes step 16 by "
                f"{c:+.1f} ({abs(c) / deficit:.0%})")
    return (f"in between: Kaiming init without layer scale wins back {a / deficit:.0%}, separate downsampling "
            f"alone costs step 15 {b / deficit:.0%}, in-block downsampling wins back {c / deficit:.0%}")


def read_start(won_back: dict[str, float]) -> str:
    r, init, scale = won_back["kaiming-no-ls"], won_back["kaiming"], won_back["no-ls"]
    if init >= 3 * r / 4:
        return f"the init carries it: Kaiming init alone wins back {init:+.1f} of {r:+.1f}"
    if scale >= 3 * r / 4:
        return f"layer scale carries it: dropping it alone wins back {scale:+.1f} of {r:+.1f}"
    if init < r / 2 and scale < r / 2:
        return f"both are needed: Kaiming init alone wins back {init:+.1f}, no layer scale alone {scale:+.1f}, " \
               f"both {r:+.1f}"
    return f"they share it: Kaiming init alone {init:+.1f}, no layer scale alone {scale:+.1f}, both {r:+.1f}"


def reading(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
            profile: str = "cpu") -> dict[str, str]:
    """{'hypothesis': ..., 'start': ...}: the rules applied to the runs, or which runs are still missing."""
    found = arm_results(folder, variants, ladder, profile)

    def missing(names) -> str | None:
        short = [f"{n} ({len(found[n].top1) if n in found else 0} of {len(SEEDS)} seeds)" for n in names
                 if n not in found or len(found[n].top1) < len(SEEDS)]
        return "not run yet: " + ", ".join(short) if short else None

    hypothesis_missing = missing(HYPOTHESIS_ARMS)
    if hypothesis_missing:
        return {"hypothesis": hypothesis_missing, "start": "not read: the hypothesis is not read yet"}
    deficit = mean(found["s15-separate"].base) - mean(found["kaiming-no-ls"].base)  # step 15 - ConvNeXt's start
    won_back = {name: r.effect for name, r in found.items()}
    verdict = read_hypothesis(deficit, won_back)
    if not verdict.startswith("holds"):
        start = "not read: the hypothesis does not hold"
    else:
        start = missing(START_ARMS) or read_start(won_back)
    return {"hypothesis": verdict, "start": start}


def decision(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
             profile: str = "cpu") -> str:
    """DECISION_RULE applied: what the small profiles start with, or why nothing is decided yet."""
    read = reading(folder, variants, ladder, profile)
    if not read["hypothesis"].startswith("holds"):
        return "nothing changes: the hypothesis " + ("is not read yet" if read["hypothesis"].startswith("not")
                                                      else "does not hold")
    found = arm_results(folder, variants, ladder, profile)
    if "kaiming" not in found or len(found["kaiming"].top1) < len(SEEDS):
        return "not decided yet: Kaiming init with layer scale kept has fewer than three seeds"
    both, init_only = found["kaiming-no-ls"], found["kaiming"]
    return decide(mean(both.top1) - mean(init_only.top1), band(len(both.top1), len(init_only.top1), ladder, profile))


def decide(gap: float, noise: float) -> str:
    """DECISION_RULE as code, once the hypothesis holds. ``gap``: Kaiming init without layer scale minus Kaiming
    init with it (means); ``noise``: the band of that difference."""
    if gap <= noise:
        return (f"the small profiles start every step with Kaiming's init and keep layer scale 1e-6: Kaiming init "
                f"alone is within the noise band of Kaiming init without layer scale ({gap:+.1f}, band ±{noise:.1f})")
    return (f"the small profiles start every step with Kaiming's init and no layer scale: Kaiming init alone is "
            f"{gap:.1f} points below Kaiming init without layer scale, beyond the noise band (±{noise:.1f})")


def _mean(tops) -> str:
    return f"{mean(tops):.1f}"


def parts_rows(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
               profile: str = "cpu") -> list[dict]:
    """One row per arm with runs: label, base step, top-1 per seed, mean, effect against its base, noise band."""
    rows = []
    start = arm_records(CONVNEXT_START, folder, variants, profile, ladder)
    if start:
        tops = [r["top1"] for _, r in sorted(start.items())]
        rows.append({"label": CONVNEXT_START.label, "base": None, "top1": tops, "mean": mean(tops), "effect": None,
                     "band": None})
    for name, r in arm_results(folder, variants, ladder, profile).items():
        rows.append({"label": r.arm.label, "base": "ConvNeXt's start" if r.arm.step == 16 else "step 15",
                     "top1": list(r.top1), "mean": mean(r.top1), "effect": r.effect,
                     "band": band(len(r.top1), len(r.base), ladder, profile)})
    return rows


def parts_table(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
                profile: str = "cpu") -> str:
    """The arms as a Markdown table (README)."""
    lines = ["| run | compared with | top-1 per seed | mean | effect | noise band (2 sd) |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for row in parts_rows(folder, variants, ladder, profile):
        effect = "" if row["effect"] is None else f"{row['effect']:+.1f}"
        band_text = "" if row["band"] is None else f"±{row['band']:.1f}"
        lines.append(f"| {row['label']} | {row['base'] or ''} | {', '.join(f'{t:.1f}' for t in row['top1'])} | "
                     f"{row['mean']:.1f} | {effect} | {band_text} |")
    return "\n".join(lines)


def report(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
           profile: str = "cpu") -> str:
    """The arms and the rules' readings as plain text (notebook 08): only what the committed records say."""
    import textwrap

    lines = [f"{'run':62s} {'top-1 per seed':>20s} {'mean':>5s} {'effect':>7s} {'band':>6s}"]
    for row in parts_rows(folder, variants, ladder, profile):
        effect = "" if row["effect"] is None else f"{row['effect']:+.1f}"
        band_text = "" if row["band"] is None else f"±{row['band']:.1f}"
        lines.append(f"{row['label']:62s} {', '.join(f'{t:.1f}' for t in row['top1']):>20s} "
                     f"{row['mean']:5.1f} {effect:>7s} {band_text:>6s}")
    read = reading(folder, variants, ladder, profile)
    lines += ["", "effect: the run's mean minus that of what it is compared with (ConvNeXt's start for step 16's "
                  "parts, step 15 for step 15's)", ""]
    for head, text in (("hypothesis: ", HYPOTHESIS), ("rule: ", RULE), ("reading: ", read["hypothesis"]),
                       ("which part of the start: ", read["start"]), ("decision: ", decision(folder, variants,
                                                                                             ladder, profile))):
        lines.append(textwrap.fill(text, 110, initial_indent=head, subsequent_indent="    "))
    return "\n".join(lines)


def ending_summary(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
                   profile: str = "cpu") -> str:
    """The means the course's ending rests on, printed from the records with their provenance (notebook 08)."""
    tops = ladder_tops(ladder, profile)
    start = [r["top1"] for r in arm_records(CONVNEXT_START, folder, variants, profile, ladder).values()]
    short = [r["top1"] for r in arm_records(ARMS["kaiming-no-ls"], folder, variants, profile, ladder).values()]
    every = [r for r in results.find_records(ladder) if r["profile"] == profile]
    size = get_profile(profile)
    devices = sorted({r["device"] for r in every})
    rows = [("step 1: ResNet-50's shape, the modern recipe", tops.get(1, [])),
            ("step 15: BN -> LN", tops.get(15, [])),
            ("step 16 as the paper builds it (ConvNeXt's init, layer scale 1e-6)", start),
            ("step 16 with the short-run start (Kaiming init, no layer scale)", short)]
    lines = [f"Our runs: profile {profile}, {size.dataset} at {size.image_size} px, {size.epochs} epochs, "
             f"{'; '.join(devices)}; the mean of each row's seeds:"]
    for label, values in rows:
        if values:
            lines.append(f"  {label:70s} {mean(values):5.1f}%  ({len(values)} seed{'s' if len(values) != 1 else ''})")
    return "\n".join(lines)


GOAL_TOP1 = 70.0  # the course's goal for the ConvNeXt shape at the cpu profile


def goal(folder: Path = PARTS_DIR, variants: Path = VARIANTS_DIR, ladder: Path = results.REFERENCE_DIR,
         profile: str = "cpu") -> str:
    """Whether the ConvNeXt shape (step 16 with the short-run start) reaches the goal: at least 70% and within
    step 15's noise band or better, means of the committed seeds."""
    short = [r["top1"] for r in arm_records(ARMS["kaiming-no-ls"], folder, variants, profile, ladder).values()]
    fifteen = ladder_tops(ladder, profile).get(15, [])
    if not short or not fifteen:
        return "the goal cannot be read yet: step 15 or step 16 with the short-run start has no runs"
    b = band(len(short), len(fifteen), ladder, profile)
    met = mean(short) >= GOAL_TOP1 and mean(short) >= mean(fifteen) - b
    return (f"the goal (at least {GOAL_TOP1:.0f}% and within step 15's noise band or better) is "
            f"{'met' if met else 'not met'}: step 16 with the short-run start {mean(short):.1f}% "
            f"({len(short)} seeds), step 15 {mean(fifteen):.1f}% ({len(fifteen)} seeds), noise band ±{b:.1f}")


def paper_start_tops(profile: str = "cpu") -> list[float]:
    """Top-1 of step 16 with the paper's start, where the profile's own step 16 starts otherwise (the roadmap
    figure draws it beside our step 16); empty where the two are the same run."""
    if not get_profile(profile).short_run_start:
        return []
    return [r["top1"] for _, r in sorted(arm_records(CONVNEXT_START, profile=profile).items())]
