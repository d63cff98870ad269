"""Small printing helpers the step notebooks share: what a step changes, and its counts next to the paper's.

Everything here prints plain, deterministic text, so nbval can compare these outputs on any machine.
"""
from __future__ import annotations

from ...model.counting import count_step
from ...model.roadmap import get_step


def show_change(step, regime: str = "resnet50") -> None:
    """A step's change as the difference of its configuration from the step it changes."""
    s = get_step(step, regime)
    print(f"step {s.index} · {s.label}: {s.change}")
    if s.parent is None:
        print("  (the starting point of the roadmap)")
        return
    parent = get_step(s.parent, regime)
    diff = parent.config.diff(s.config)
    if not diff:
        print(f"  same network as step {parent.index}; only the training recipe changes "
              f"({parent.recipe} -> {s.recipe})")
        return
    for field, (old, new) in diff.items():
        print(f"  - {field}={old!r}")
        print(f"  + {field}={new!r}")
    print(f"  i.e. cl.build_model({s.index}) is cl.build_model({parent.index}, "
          + ", ".join(f"{k}={v!r}" for k, (_, v) in diff.items()) + ")")


def step_table(steps, regime: str = "resnet50", image_size: int = 224) -> None:
    """Params and GFLOPs (both conventions) of some steps, beside the paper's GFLOPs and top-1."""
    steps = [get_step(index, regime).index for index in steps]  # an unknown step fails before anything prints
    print(f"{'step':>4}  {'change':<24} {'params':>8} {'GFLOPs':>7} {'fvcore':>7} │ {'paper GFLOPs':>12} "
          f"{'paper top-1':>11}")
    for index in steps:
        step = get_step(index, regime)
        row = count_step(step.index, regime, image_size)
        label = row.label + ("" if row.adopted else " (branch)")
        paper_gflops = f"{step.paper_table_gflops:.2f}" + ("*" if row.note else " ")  # as printed, typos too
        print(f"{row.index:>4}  {label:<24} {row.params / 1e6:7.2f}M {row.gflops_paper_convention:7.3f} "
              f"{row.gflops_fvcore:7.3f} │ {paper_gflops:>12} {row.paper_top1:>11.2f}")
    print(f"ours: counted by fvcore at {image_size}x{image_size}; GFLOPs = conv + linear multiply-accumulates "
          "(the paper's convention), fvcore = fvcore's default (+ norms, pooling).")
    source = ("Table 10 (top-1: mean of 3 runs" if regime == "resnet50" else "Table 11 (top-1: single runs")
    print(f"paper: ImageNet-1K, {source}, 300 epochs).")
    for index in steps:
        row = count_step(get_step(index, regime).index, regime, image_size)
        if row.note:
            print(f"* step {row.index}: {row.note}")


def roadmap_so_far(upto: int, runs=(), regime: str = "resnet50", reference_profile: str = "cpu"):
    """The roadmap up to step ``upto``, one row per step as in the paper's Figure 2: the paper's top-1
    (left) and ours (right): the committed reference runs of ``reference_profile`` (mean and spread of
    their seeds) and ``runs``, this notebook's ``cl.train`` results (crosses). Ours are small networks on
    a small dataset at low resolution: compare our rows with each other, not with the paper's.
    """
    from ...training.results import reference_results
    from ..notebook import show_photos
    from .roadmap_figure import roadmap_figure
    from ..readings.step16_parts import paper_start_tops

    reference = [r for rs in reference_results(regime, reference_profile).values() for r in rs]
    start = paper_start_tops(reference_profile) if regime == "resnet50" else []
    yours = [r for r in runs if not getattr(r, "reference", False)]  # a reference run is drawn as the reference
    show_photos(roadmap_figure(reference, yours, upto, regime, paper_start=start))  # JPEG: light


def step_effects_so_far(regime: str = "resnet50", reference_profile: str = "cpu") -> None:
    """Print what each step did to the committed reference runs' top-1, beside the paper's, with the noise
    band and its reading (``teach.readings.step_effects``): only steps whose run and whose parent's run exist."""
    from ...training.results import reference_results
    from ..readings.step_effects import effects_table

    records = [r for rs in reference_results(regime, reference_profile).values() for r in rs]
    print(effects_table(records) if records else f"No committed {reference_profile} reference runs of {regime} yet.")


def step_effect(index: int, regime: str = "resnet50", reference_profile: str = "cpu") -> None:
    """Print one step's effect on the committed reference runs beside the paper's, with its noise band."""
    from ...training.results import reference_results
    from ..readings.step_effects import step_effects

    records = [r for rs in reference_results(regime, reference_profile).values() for r in rs]
    found = [e for e in step_effects(records, regime) if e.index == index]
    if not found:
        print(f"step {index}: no committed {reference_profile} runs of it and of its parent yet")
        return
    e = found[0]
    band = f"±{e.band:.1f}" if e.band is not None else "noise not measured yet"
    print(f"step {e.index} ({e.label}) against step {e.parent}: ours {e.ours:+.1f} points (noise band {band}; "
          f"means of {e.seeds[0]} and {e.seeds[1]} seeds, profile {reference_profile}), the paper's {e.paper:+.2f}: "
          f"{e.verdict}")


def followups_so_far(*names: str) -> None:
    """Print the follow-ups where our small-scale roadmap disagrees with the paper: each hypothesis and rule,
    fixed before its runs, our effects from the committed runs and the rule's reading (``teach.readings.followups``)."""
    from ..readings.followups import report

    print(report(names=names or None))


def step16_parts_so_far() -> None:
    """Print step 16 taken apart: each part's committed runs, the hypothesis, the rule fixed before the runs and
    its reading (``teach.readings.step16_parts``)."""
    from ..readings.step16_parts import report

    print(report())


def earlier_run(step: int, notebook: str, train: bool = False, **options):
    """Step ``step`` as notebook ``notebook`` trained it, without training it again: your run if this runs folder
    holds it finished (loaded, as ``cl.train`` loads it); else the committed reference run of the ``cpu`` profile
    (seed 0), labelled as the reference, not as yours (a fresh Colab runtime has no runs folder: keep one on Drive
    with ``cl.use_drive()``). ``train=True`` trains it here. ``options``: as ``cl.train``'s. Your run is looked
    for where a run on the offline pack lies; one on another copy of the dataset (its own folder) is not found."""
    from ...training.plan import plan_run
    from ...training.results import REFERENCE_DIR, RESULT_NAME, reference_results
    from ...training.run import RunResult, train as train_step

    shown = {k: options.pop(k) for k in ("progress", "verbose") if k in options}  # how, not what: not the plan's
    plan = plan_run(step, **options)
    if train or (plan.run_dir() / RESULT_NAME).exists():
        return train_step(step, **options, **shown)
    seeds = reference_results(plan.step.regime, "cpu").get(plan.step.index, [])
    if not seeds:
        raise ValueError(f"step {step} is not in this runs folder and has no committed reference run: train it "
                         f"with cl.train({step}) (notebook {notebook} does)")
    record = min(seeds, key=lambda r: r["seed"])
    print(f"step {record['step']} is not in this runs folder (notebook {notebook} trains it), so this is the committed "
          f"reference run, not yours: {reference_label(record)}, top-1 {record['top1']:.1f}%. To train your own "
          f"here: cl.lesson.earlier_run({step}, \"{notebook}\", train=True)")
    return RunResult(record, REFERENCE_DIR, reference=True)


def experiment_result(step: int, curves: bool = False, regime: str = "resnet50",
                      reference_profile: str = "cpu") -> None:
    """The notebook's experiment on ``step`` as the committed reference runs did it: the variant's top-1 beside the
    step's own run of the same seed, the difference against how far two seeds of one network fall apart, and
    both runs' validation top-1 epoch by epoch (``curves=True``: drawn, with the train loss). Read it after
    your own attempt: these are ours, labelled, not yours."""
    import math

    from ...training import paths
    from ...training.results import find_records, reference_results
    from ..notebook import show_photos
    from ..readings.step_effects import pooled_std

    variants = [v for v in find_records(paths.REFERENCE / "variants")
                if v["step"] == step and v["regime"] == regime and v["profile"] == reference_profile]
    ladder = reference_results(regime, reference_profile)
    if not variants:
        print(f"No committed {reference_profile} experiment on step {step} yet.")
        return
    spread = pooled_std({k: [r["top1"] for r in rs] for k, rs in ladder.items()}) or 0.0
    for v in variants:
        base = next((r for r in ladder.get(step, []) if r["seed"] == v["seed"]), None)
        changed = ", ".join(f"{k}={val}" for k, val in v["overrides"].items())
        print(f"committed {reference_label(v)}:")
        print(f"  step {step} with {changed}: top-1 {v['top1']:.1f}%")
        if base is None:
            print(f"  step {step} itself, seed {v['seed']}: not run yet")
            continue
        band = 2 * spread * math.sqrt(2)  # two single runs: twice the sd of a difference of two seeds
        print(f"  step {step} itself, same seed: top-1 {base['top1']:.1f}%; difference {v['top1'] - base['top1']:+.1f} "
              f"points; two seeds of one network differ by up to about ±{band:.1f} (the ladder's spread)")
        if base["device"] != v["device"]:
            print(f"  careful: the step's run is from another CPU ({base['device']}); a run repeats exactly only on "
                  "its own kind of CPU, so this difference holds the change and the two CPUs' rounding together "
                  "(docs/findings.md)")
        for name, run in ((f"step {step}", base), (changed, v)):
            print(f"  val top-1 by epoch, {name + ':':24s}" + " ".join(f"{m['val_top1']:4.1f}" for m in run["history"]))
        if curves:
            show_photos(history_figure(base, v, labels=[f"step {step} (reference)", f"{changed} (reference)"]))


def experiment_by_default(step: int, regime: str = "resnet50", reference_profile: str = "cpu") -> bool:
    """Whether a notebook trains its experiment on ``step`` without being asked: yes, except under the ``cpu``
    profile in the notebooks where one more run would take the notebook past a lab sitting (about 30 minutes);
    there it says so, with what the committed run of the experiment took, and how to switch it on."""
    from ...training.paths import REFERENCE
    from ...training.profiles import get_profile
    from ...training.results import find_records

    if get_profile().name != "cpu":
        return True
    committed = [v for v in find_records(REFERENCE / "variants")
                 if v["step"] == step and v["regime"] == regime and v["profile"] == reference_profile]
    took = (f" (the committed {reference_profile} run of it took {committed[0]['wall_time_s'] / 60:.0f} minutes on "
            f"{committed[0]['device']})" if committed else "")
    print(f"Under the cpu profile this experiment is off by default: one more training run{took} would take "
          "this notebook past a lab sitting of about 30 minutes. Set train_experiment = True to train it; "
          "its committed result is shown below either way.")
    return False


def reference_label(record: dict) -> str:
    """How a committed reference run is named beside the learner's: its profile, seed, data and device."""
    return (f"reference run, {record['profile']} profile, seed {record['seed']}, {record['epochs']} epochs of "
            f"{record['dataset']['name']} at {record['image_size']} px, on {record['device']}")


def plot_history(*runs, labels=None, reference: str | None = "cpu"):
    """Training curves of one or more runs (or their records): train loss, validation top-1 and the learning
    rate per epoch; ``labels`` names each curve (default: its step, profile and dataset). Beside each run, the
    committed ``reference`` run of the same network and seed (dashed, same colour), where there is one and it
    is not that very run: how the change trains at a real size beside a run that only proves the code runs,
    or beside a ``cpu`` run on other kernels or threads (docs/findings.md: they round differently)."""
    import matplotlib.pyplot as plt

    history_figure(*runs, labels=labels, reference=reference)
    plt.show()


def committed_reference(record: dict, reference_profile: str = "cpu") -> dict | None:
    """The committed run of ``reference_profile`` with the same step, regime, overrides and seed as ``record``."""
    from ...training import paths
    from ...training.results import find_records

    folder = "variants" if record.get("overrides") else "runs"
    return next((r for r in find_records(paths.REFERENCE / folder)
                 if (r["step"], r["regime"], r["profile"], r["seed"], r.get("overrides") or {})
                 == (record["step"], record["regime"], reference_profile, record["seed"], record.get("overrides") or {})),
                None)


def history_figure(*runs, labels=None, reference: str | None = None):
    """The figure ``plot_history`` shows, returned (to show it as a JPEG, say: ``notebook.show_photos``)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for k, run in enumerate(runs):
        record = getattr(run, "record", run)
        label = (labels[k] if labels else
                 f"step {record['step']} ({'reference, ' if getattr(run, 'reference', False) else ''}"
                 f"{record['profile']}, {record['dataset']['name']})")
        curves = [(record, label, "o-")]
        committed = (committed_reference(record, reference)
                     if reference and not getattr(run, "reference", False) else None)
        if committed is not None and committed["history"] != record["history"]:  # not the committed run itself
            curves.append((committed, f"{label}: committed {reference} run, seed {committed['seed']}", "--"))
        for shown, name, style in curves:
            history = shown["history"]
            epochs = [m["epoch"] for m in history]
            for ax, key in zip(axes, ("train_loss", "val_top1", "lr")):
                ax.plot(epochs, [m[key] for m in history], style, color=f"C{k}", label=name,
                        markersize=4 if style == "o-" else None)
    for ax, title in zip(axes, ("train loss", "validation top-1 (%)", "learning rate (end of epoch)")):
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
