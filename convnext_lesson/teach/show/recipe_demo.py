"""Looking at the training recipe (notebook 02): augmentations, learning rate, drop path, short-run scaling.

Its augmentations on real images, its learning rate per iteration, its stochastic-depth rates,
its scaling to short runs.

Everything here calls the package's real training code (``recipes.train_transform``,
``recipes.BatchMixer``, ``recipes.make_optimizer``/``make_scheduler``), so the
pictures show what ``cl.train`` does, not a re-implementation of it.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...training import paths
from ...training.recipes import IMAGENET_MEAN, IMAGENET_STD, Recipe, make_optimizer, make_scheduler
from ..lab.pretrained import IMAGENETTE_CLASSES

def class_name(folder: str) -> str:
    """A readable class name for a dataset folder name (Imagenette's WordNet ids; others as they are)."""
    return IMAGENETTE_CLASSES.get(folder, folder)


def sample_images(dataset: str | None = None, n: int = 4, split: str = "train", size: int | None = None,
                  download: bool = True):
    """``n`` real images of ``n`` different classes (the first image of evenly spaced classes).

    ``dataset`` defaults to the current profile's; a missing copy is downloaded (checked, with a
    progress bar) as notebook 00 does, so that a fresh Colab runtime has it before ``cl.train``.
    Returns (list of RGB PIL images, list of class indices, list of class names, the ``DatasetCopy``).
    """
    from ...training.data import locate
    from ...training.images import list_images, load_image
    from ...training.profiles import get_profile

    copy = locate(dataset or get_profile().dataset, download_missing=download)
    samples = list_images(copy, split)
    n = max(1, min(n, len(copy.classes)))
    wanted = [round(i * (len(copy.classes) - 1) / max(n - 1, 1)) for i in range(n)]
    images, targets = [], []
    for cls in wanted:
        path = next(p for p, t in samples if t == cls)
        images.append(load_image(path, size))
        targets.append(cls)
    return images, targets, [class_name(copy.classes[t]) for t in targets], copy


def to_uint8(image) -> torch.Tensor:
    """A PIL image as a (3, H, W) uint8 tensor (what the preloaded training data holds)."""
    from torchvision.transforms import v2

    return v2.functional.pil_to_tensor(image) if not isinstance(image, torch.Tensor) else image


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Undo ImageNet normalisation: (3, H, W) normalised -> (H, W, 3) in [0, 1], ready for ``imshow``."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x.detach().float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0)


def augment(transform, image, seed: int) -> torch.Tensor:
    """One draw of a (random) transform, reproducible: the RNG is seeded as the training data's is."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(image)


def show_grid(rows: dict, titles: list | None = None, size: float = 1.9):
    """A grid of normalised image tensors: one row per entry of ``rows`` ({row label: [tensors]}).

    ``titles``: one title per column (over the first row), or a list of such lists, one per row.
    """
    import matplotlib.pyplot as plt

    n_cols = max(len(v) for v in rows.values())
    per_row = bool(titles) and isinstance(titles[0], (list, tuple))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(size * n_cols + 1.2, size * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(denormalize(images[c]).numpy())
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
            row_titles = titles[r] if per_row else (titles if r == 0 else None)
            if row_titles and c < len(row_titles):
                ax.set_title(row_titles[c], fontsize=9)
    fig.tight_layout()
    return fig


def soft_label_text(target: torch.Tensor, names: list[str] | None = None, top: int = 2, sep: str = " + ") -> str:
    """The largest entries of a soft label as text, e.g. ``0.63 tench + 0.37 church``."""
    values, indices = target.topk(min(top, target.numel()))
    parts = [f"{v:.2f} {names[i] if names else i}" for v, i in zip(values.tolist(), indices.tolist()) if v > 0.005]
    return sep.join(parts)


def steps_per_epoch(profile=None, dataset: str | None = None) -> int:
    """Optimizer steps per epoch of a profile's run, as the trainer counts them (``engine.steps_per_epoch``)."""
    from ...training.datasets import get_dataset_info
    from ...training.engine import steps_per_epoch as count
    from ...training.profiles import get_profile

    prof = get_profile(profile)
    train_images = get_dataset_info(dataset or prof.dataset).counts[0]  # what every copy holds (data.check_layout)
    return count(train_images, prof.batch_size, prof.max_steps_per_epoch)


def lr_per_iteration(recipe: Recipe, total_steps: int) -> list[float]:
    """The learning rate of every iteration of a run, from the package's real optimizer and scheduler.

    Entry ``t`` is the rate the optimizer uses for iteration ``t`` (the scheduler steps after
    each iteration, as in training).
    """
    import warnings

    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps} must be positive")
    optimizer = make_optimizer(nn.Linear(1, 1), recipe)
    scheduler = make_scheduler(optimizer, recipe, total_steps)
    rates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": no gradients here
        for _ in range(total_steps):
            rates.append(optimizer.param_groups[0]["lr"])
            scheduler.step()
    return rates


def drop_path_rates(model: nn.Module) -> list[float]:
    """The stochastic-depth (drop path) rate of every residual block, in order (0 where it is off)."""
    from torchvision.ops import StochasticDepth

    from ...model.layers import Block

    rates = []
    for module in model.modules():
        if isinstance(module, Block):
            rates.append(float(module.drop_path.p) if isinstance(module.drop_path, StochasticDepth) else 0.0)
    return rates


def parameter_kind(model: nn.Module, name: str) -> str:
    """What a parameter is, as ``<layer type>.<parameter>``: ``Conv2d.weight``, ``BatchNorm2d.bias``, ... The
    layer type is PyTorch's (the course's CPU-kernel convolutions are ``Conv2d``s computed another way)."""
    from ...model.cpu_kernels import DepthwiseConv2d, PointwiseConv2d

    owner, _, attr = name.rpartition(".")
    layer = model.get_submodule(owner)
    kind = "Conv2d" if isinstance(layer, (DepthwiseConv2d, PointwiseConv2d)) else type(layer).__name__
    return f"{kind}.{attr}"


def decay_split(model: nn.Module, recipe: Recipe) -> dict[str, list[str]]:
    """Names of the parameters with and without weight decay, as ``recipes.param_groups`` splits them."""
    from ...training.recipes import param_groups

    groups = param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias)
    names = {id(p): n for n, p in model.named_parameters()}
    split = {"decay": [], "no_decay": []}
    for group in groups:
        key = "decay" if group["weight_decay"] > 0 else "no_decay"
        split[key] += [names[id(p)] for p in group["params"]]
    return split


# -- the recipe search: which short-run recipe, chosen by measurement -----------------------------------------------

RECIPE_SEARCH_DIR = paths.RECIPE_SEARCH
RECIPE_SEARCH_STEPS = (1, 16)  # a ResNet-shaped and a ConvNeXt-shaped network
# every variant ``tools/recipe_search.py`` plans (its folder name: the change to the cpu profile's scaled modern
# recipe); stage 2 runs at stage 1's learning rate, so its folders are named "base+<variant>"
RECIPE_SEARCH_PLAN = {
    "base": {},
    "lr4e-3": {"lr": 4e-3},
    "base+randaugment-m9": {"randaugment": (2, 9)},
    "base+mix-erase-full": {"mix_prob": 1.0, "random_erasing": 0.25},
    "base+no-regularisation": {"mix_prob": 0.0, "random_erasing": 0.0, "drop_path": 0.0},
}


def _changes_text(changes: dict) -> str:
    return ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in changes.items()) or "none"


def recipe_search_rows(root: str | Path | None = None) -> tuple[list[dict], list[str]]:
    """The recipe search's finished variants, read from their records, and the planned ones not run yet.

    A variant is finished when it has a record for each of ``RECIPE_SEARCH_STEPS``. Each row:
    ``variant``, ``changes`` (the recipe changes its records say it ran with), ``top1`` and
    ``wall_time_s`` ({step: value}), ``provenance`` (device, profile, dataset, px, epochs, seeds) and ``notes``.
    """
    from ...training.results import find_records

    root = Path(root) if root is not None else RECIPE_SEARCH_DIR
    folders = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    order = list(RECIPE_SEARCH_PLAN) + [f for f in folders if f not in RECIPE_SEARCH_PLAN]  # planned first
    rows, missing = [], []
    for variant in order:
        records = {r["step"]: r for r in find_records(root / variant)} if variant in folders else {}
        if not all(step in records for step in RECIPE_SEARCH_STEPS):
            missing.append(variant)
            continue
        chosen = [records[step] for step in RECIPE_SEARCH_STEPS]
        first = chosen[0]
        rows.append({
            "variant": variant,
            "changes": first["overrides"].get("recipe", {}),
            "top1": {r["step"]: r["top1"] for r in chosen},
            "wall_time_s": {r["step"]: r["wall_time_s"] for r in chosen},
            "provenance": (first["device"], first["profile"], first["dataset"]["name"], first["image_size"],
                           first["epochs"], tuple(sorted({r["seed"] for r in chosen}))),
            "notes": sorted({r["note"] for r in chosen if r.get("note")}),
        })
    return rows, missing


def recipe_search_table(root: str | Path | None = None) -> str:
    """The recipe search as text: one row per finished variant, its provenance, and what is not run yet."""
    rows, missing = recipe_search_rows(root)
    steps = RECIPE_SEARCH_STEPS
    width = max([40] + [len(_changes_text(row["changes"])) for row in rows])
    head = (f"{'variant':24s} {'recipe changes':{width}s} " + " ".join(f"{f'step {s}':>7s}" for s in steps)
            + f" {'mean':>6s}   wall time (step {' / '.join(map(str, steps))})")
    lines = [head]
    for row in rows:
        mean = sum(row["top1"].values()) / len(steps)
        times = " / ".join(f"{row['wall_time_s'][s] / 60:.0f}" for s in steps)
        lines.append(f"{row['variant']:24s} {_changes_text(row['changes']):{width}s} "
                     + " ".join(f"{row['top1'][s]:6.1f}%" for s in steps) + f" {mean:5.1f}%   {times} min")
    if not rows:
        lines.append("(no finished variant yet)")
    for device, profile, dataset, px, epochs, seeds in sorted({row["provenance"] for row in rows}):
        names = ", ".join(row["variant"] for row in rows if row["provenance"] == (device, profile, dataset, px,
                                                                                 epochs, seeds))
        lines.append(f"runs ({names}): {device}, profile {profile}, {dataset} at {px} px, {epochs} epochs, "
                     f"seed {', '.join(map(str, seeds))}; one run per cell; top-1 on the validation set after "
                     "the last epoch")
    noted = [row["variant"] for row in rows if row["notes"]]  # a note says how the machine was shared
    if noted:
        lines.append(f"wall times of {', '.join(noted)}: measured on a machine that also did other work "
                     "(each record's note says what, and how much); the results do not depend on it")
    if missing:
        lines.append("not run yet: " + "; ".join(
            f"{v} ({_changes_text(RECIPE_SEARCH_PLAN[v])})" if v in RECIPE_SEARCH_PLAN else v for v in missing))
    return "\n".join(lines)


RECIPE_SEARCH_TIE = 0.5  # points of mean top-1: the search's tie margin (tools/recipe_search.py)


def recipe_search_against_base(root: str | Path | None = None) -> list[dict]:
    """Each finished variant against ``base``, from the records: ``variant``, ``diffs`` ({step: points of
    top-1}), ``mean`` (points) and ``verdict`` ("a tie", "better" or "worse", by the search's tie margin)."""
    rows, _ = recipe_search_rows(root)
    base = next((row for row in rows if row["variant"] == "base"), None)
    found = []
    for row in rows if base is not None else []:
        if row is base:
            continue
        diffs = {s: row["top1"][s] - base["top1"][s] for s in RECIPE_SEARCH_STEPS}
        mean = sum(diffs.values()) / len(diffs)
        verdict = "a tie" if abs(mean) <= RECIPE_SEARCH_TIE else ("better" if mean > 0 else "worse")
        found.append({"variant": row["variant"], "diffs": diffs, "mean": mean, "verdict": verdict})
    return found


def recipe_search_build_note(root: str | Path | None = None) -> str | None:
    """A sentence when the search trained step 16 as the paper builds it while the profile now trains it with
    the short-run start (its column is then not the ladder's step 16); None otherwise."""
    from ...model.roadmap import get_step
    from ...training.profiles import get_profile
    from ...training.results import find_records

    paper = get_step(16).config
    for record in find_records((Path(root) if root is not None else RECIPE_SEARCH_DIR) / "base"):
        config = record["config"]
        if (record["step"] == 16 and get_profile(record["profile"]).short_run_start
                and (config["init"], config["layer_scale"]) == (paper.init, paper.layer_scale)):
            return (f"step 16 in this search is the paper's build (ConvNeXt's init, layer scale {paper.layer_scale:g}); "
                    f"the {record['profile']} profile now trains step 16 with Kaiming init and no layer scale "
                    "(notebook 08 says why), so this column is not the ladder's step 16")
    return None


def comparison_text(c: dict) -> str:
    return (", ".join(f"step {s} {d:+.1f}" for s, d in c["diffs"].items())
            + f"; mean {c['mean']:+.1f} points: {c['verdict']} (tie margin ±{RECIPE_SEARCH_TIE})")


def recipe_search_reading(root: str | Path | None = None) -> str:
    """The search's variants against ``base`` as text lines, and the step-16 build note when it applies."""
    found = recipe_search_against_base(root)
    if not found:
        return "(base and a variant not both run yet: nothing to compare)"
    lines = [f"{c['variant']:24s} against base: {comparison_text(c)}" for c in found]
    note = recipe_search_build_note(root)
    return "\n".join(lines + ([note] if note else []))


def recipe_search_row_text(variant: str, step: int = 1, root: str | Path | None = None) -> str:
    """One variant of the recipe search against ``base`` on one network, as the committed records have it:
    provenance, the two top-1s and their validation top-1 epoch by epoch."""
    from ...training.results import find_records
    from .lesson import reference_label

    root = Path(root) if root is not None else RECIPE_SEARCH_DIR
    valid = [v for v in RECIPE_SEARCH_PLAN if v != "base"]
    if variant not in valid:
        raise ValueError(f"variant {variant!r} is not in the recipe search; valid: {', '.join(valid)}")
    if step not in RECIPE_SEARCH_STEPS:
        raise ValueError(f"step {step}: the recipe search trained steps {', '.join(map(str, RECIPE_SEARCH_STEPS))}")
    found = {name: next((r for r in find_records(root / name) if r["step"] == step), None)
             for name in ("base", variant)}
    if None in found.values():
        return f"the recipe search has no committed step-{step} run of {' and '.join(n for n, r in found.items() if r is None)} yet"
    base, other = found["base"], found[variant]
    lines = [f"committed {reference_label(base)} (the recipe search):",
             f"  step {step}, base: {base['top1']:.1f}%; {variant}: {other['top1']:.1f}% "
             f"({other['top1'] - base['top1']:+.1f} points)"]
    for name, record in found.items():
        lines.append(f"  val top-1 by epoch, {name + ':':24s}" + " ".join(f"{m['val_top1']:4.1f}" for m in record["history"]))
    return "\n".join(lines)
