"""Interactive explorers of the roadmap (ipywidgets 8, or 7.7 as Colab ships it), for JupyterLab 4 and Colab.

In a notebook cell (the widget is the cell's value)::

    from convnext_lesson.teach.show.explorer import roadmap_explorer, kernel_explorer
    roadmap_explorer()                    # ResNet-50 -> ConvNeXt-T, starting at step 0
    roadmap_explorer("resnet200", 16)     # the ResNet-200 -> ConvNeXt-B roadmap, at its last step
    kernel_explorer()                     # depthwise kernel 3..11: receptive field and FLOPs

Moving the step slider shows that step's change, its block diagram, its counts in
both FLOP conventions, its compute per stage, the paper's top-1 next to ours, and
its configuration difference from the step it changes. A step is counted the first
time it is shown (about 0.4 s for a ResNet-50-sized step, 1.5 s for a ResNet-200 one,
on a busy 2-core CPU) into ``count_step``'s cache, which ``count_roadmap`` shares; its
picture is cached too, so going back to a step is immediate.

Without a live kernel (a notebook viewed on GitHub or nbviewer) the saved output
falls back to a PNG of the step that was shown, with a text summary.
"""
from __future__ import annotations

import base64
import html
import time
from functools import lru_cache

import ipywidgets as widgets
from matplotlib.figure import Figure

from ...model.counting import StepCount, count_step
from ...model.threads import one_thread
from ...model.roadmap import REGIMES, get_step, roadmap_steps
from ...training import results
from . import diagrams
from .receptive_field import (KERNEL_SIZES, KERNEL_STEPS, check_kernel_size, check_stage, draw_receptive_field,
                              effective_receptive_field, kernel_config)

IMAGE_SIZE = 224
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Colab ships ipywidgets 7.7.1; the course keeps it rather than upgrade a package inside a running kernel.
IPYWIDGETS_7 = int(widgets.__version__.split(".")[0]) < 8
REGIME_TITLES = {"resnet50": "ResNet-50 → ConvNeXt-T", "resnet200": "ResNet-200 → ConvNeXt-B"}
NO_REFERENCE_RUN = "no reference run yet"

_SHOWN: set[tuple[str, int]] = set()  # steps counted in this session (for the "counting ..." message)


def step_counts(index: int, regime: str = "resnet50") -> StepCount:
    """Row ``index`` of ``count_roadmap(regime)`` (224 px): ``count_step``, cached and shared with it.

    Counted on one thread: measured on a busy 2-core CPU, a ResNet-50-regime step took about
    0.4 s this way and 2.5 s on two threads.
    """
    with one_thread():  # small work: one thread is faster than two waiting for busy cores
        row = count_step(get_step(index, regime).index, regime, IMAGE_SIZE)
    _SHOWN.add((regime, row.index))
    return row


def is_counted(index: int, regime: str = "resnet50") -> bool:
    return (regime, index) in _SHOWN


def reference_runs(regime: str = "resnet50") -> dict[int, list[dict]]:
    """Our committed reference results, {step index: [run records]}; {} when none exist yet."""
    return results.reference_results(regime)


def step_summary(index: int, regime: str = "resnet50", runs: dict | None = None) -> dict:
    """Everything the roadmap explorer shows for one step, as plain data.

    ``runs``: reference results as from ``reference_runs(regime)`` (read if not given).
    """
    step = get_step(index, regime)
    counts = step_counts(step.index, regime)
    parent = get_step(step.parent, regime) if step.parent is not None else None
    runs = reference_runs(regime) if runs is None else runs
    return {
        "regime": regime, "index": step.index, "name": step.name, "label": step.label, "change": step.change,
        "adopted": step.adopted, "recipe": step.recipe, "note": step.note,
        "params": counts.params, "gflops_paper_convention": counts.gflops_paper_convention,
        "gflops_fvcore": counts.gflops_fvcore, "by_part": counts.by_part,
        "paper_gflops": step.paper_gflops, "paper_top1": step.paper_top1,
        "paper_printed_gflops": step.paper_printed_gflops,
        "parent": step.parent, "parent_label": parent.label if parent else None,
        "parent_recipe": parent.recipe if parent else None,
        "parent_by_part": step_counts(parent.index, regime).by_part if parent else None,
        "config_diff": parent.config.diff(step.config) if parent else {},
        "overrides": dict(step.overrides),
        "our_runs": list(runs.get(step.index, [])),
    }


def _paper_gflops_text(summary: dict) -> str:
    """The paper's GFLOPs as its table prints them, with the count beside a typo."""
    if summary["paper_printed_gflops"] is None:
        return f"{summary['paper_gflops']:.2f}"
    return f"{summary['paper_printed_gflops']:.2f} (a typo; counted {summary['paper_gflops']:.2f})"


def numbers_line(summary: dict) -> str:
    """One line of counts, as in the picture and the text fallback."""
    return (f"{summary['params']:,} params · {summary['gflops_paper_convention']:.3f} GFLOPs (paper convention) · "
            f"{summary['gflops_fvcore']:.3f} (fvcore) · paper: {_paper_gflops_text(summary)} GFLOPs, "
            f"{summary['paper_top1']:.2f}% top-1")


@lru_cache(maxsize=64)
def step_picture(index: int, regime: str = "resnet50") -> bytes:
    """PNG of a step: block, macro layout and compute bars next to its parent's (cached)."""
    summary = step_summary(index, regime, runs={})
    fig = diagrams.draw_step(get_step(index, regime), regime, summary["by_part"], summary["parent_by_part"],
                             numbers=numbers_line(summary), fig=Figure(figsize=(12, 6.6)))
    return diagrams.figure_png(fig)


def _runs_html(runs: list[dict]) -> str:
    if not runs:
        return f'<span class="cl-our-top1">{NO_REFERENCE_RUN}</span>'

    def pct(value):
        return f"{value:.2f}%" if isinstance(value, (int, float)) else "?"

    def text(value):
        # the run record's dataset is a dict with a name; accept a plain name too
        return html.escape(str(value.get("name", "?") if isinstance(value, dict) else value))

    items = []
    for r in runs[:4]:
        final = r.get("final_top1", r.get("top1"))  # the record's "top1" is after the last epoch
        items.append(f'<li><span class="cl-our-top1">{pct(r.get("best_top1"))}</span> best, {pct(final)} final · '
                     f'{text(r.get("dataset", "?"))}, profile {text(r.get("profile", "?"))}, '
                     f'{text(r.get("epochs", "?"))} epochs, seed {text(r.get("seed", "?"))}, '
                     f'{text(r.get("device", "?"))}</li>')
    more = f"<li>and {len(runs) - 4} more</li>" if len(runs) > 4 else ""
    return f'<ul style="margin:0; padding-left:1.2em">{"".join(items)}{more}</ul>'


def numbers_html(summary: dict) -> str:
    """The counts next to the paper's, with a CSS class on each value (the browser test reads them)."""
    printed = summary["paper_printed_gflops"]
    shown = summary["paper_gflops"] if printed is None else printed  # what the paper's table prints
    typo = f" <small>(a typo: the count is {summary['paper_gflops']:.2f})</small>" if printed is not None else ""
    row = '<tr><td style="padding-right:1em">{}</td><td class="{}" style="text-align:right">{}</td><td>{}</td></tr>'
    return (
        '<div style="line-height:1.4"><table class="cl-numbers-table">'
        '<tr><th></th><th style="text-align:right">ours</th><th style="padding-left:1em">paper</th></tr>'
        + row.format("parameters", "cl-params", f"{summary['params']:,}", "")
        + row.format("GFLOPs, paper convention (conv + linear MACs)", "cl-gflops-paper",
                     f"{summary['gflops_paper_convention']:.3f}",
                     f'<span style="padding-left:1em" class="cl-paper-gflops">{shown:.2f}</span>'
                     + typo)
        + row.format("GFLOPs, fvcore default (also norms, pooling)", "cl-gflops-fvcore",
                     f"{summary['gflops_fvcore']:.3f}", "")
        + row.format("ImageNet-1K top-1 (300 epochs)", "", "",
                     f'<span style="padding-left:1em" class="cl-paper-top1">{summary["paper_top1"]:.2f}%</span>')
        + "</table>"
        + "<div style='margin-top:0.4em'><b>our reference runs</b> (on small datasets, so compare steps "
          "with each other, not with the paper's ImageNet number): " + _runs_html(summary["our_runs"])
        + "</div></div>"
    )


def difference_html(summary: dict) -> str:
    """What this step changes, as a configuration difference and the line of code that makes it."""
    if summary["parent"] is None:
        return ("<b>the starting point</b>: the network as torchvision builds it, "
                "<code>get_step(0).config</code> is the default <code>NetConfig()</code>"
                + (" with depths (3, 24, 36, 3)" if summary["regime"] == "resnet200" else ""))
    head = f"<b>difference from step {summary['parent']} ({html.escape(summary['parent_label'])})</b>"
    if not summary["config_diff"]:
        recipe = f"{summary['parent_recipe']} → {summary['recipe']}"
        return (f"{head}<br>the network is the same; the training recipe changes ({recipe}), "
                "see notebook 02.<pre class='cl-diff' style='margin:0.3em 0'>(no configuration field changes)</pre>")
    lines = "\n".join(f"{name}: {old!r} → {new!r}" for name, (old, new) in summary["config_diff"].items())
    args = ", ".join(f"{k}={v!r}" for k, v in summary["overrides"].items())
    code = f"config = get_step({summary['parent']}).config.replace({args})"
    branch = ("" if summary["adopted"] else
              "<br><i>a branch: not adopted, later steps do not build on it</i>")
    return (f"{head}{branch}<pre class='cl-diff' style='margin:0.3em 0'>{html.escape(lines)}</pre>"
            f"<pre class='cl-code' style='margin:0; white-space:pre-wrap'>{html.escape(code)}</pre>")


def _enable_colab_widgets() -> None:
    """Colab shows ipywidgets 8 only through its custom widget manager."""
    try:
        from google.colab import output
    except ImportError:  # not on Colab: JupyterLab and others need nothing
        return
    output.enable_custom_widget_manager()


class _StaticFallback:
    """Adds a PNG and a text summary to the widget's display data: a notebook viewed
    without a kernel (GitHub, nbviewer) shows them instead of nothing."""

    picture: widgets.Image

    def summary_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        if IPYWIDGETS_7:  # 7 has no _repr_mimebundle_: the same widget view, built here
            bundle = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self.model_id}}
        else:
            bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.summary_text()
        if self.picture.value:
            bundle["image/png"] = base64.b64encode(self.picture.value).decode("ascii")
        return bundle

    if IPYWIDGETS_7:
        def _ipython_display_(self, **kwargs):
            """ipywidgets 7 displays a widget through this method (which IPython asks first), not the bundle."""
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)
            self._handle_displayed(**kwargs)


def _image() -> widgets.Image:
    return widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))


class RoadmapExplorer(_StaticFallback, widgets.VBox):
    """Pick a regime and a step; everything below updates in place (see the module docstring)."""

    def __init__(self, regime: str = "resnet50", step=0):
        steps = roadmap_steps(regime)  # a clear error for an unknown regime
        first = get_step(step, regime)
        self.regime_picker = widgets.ToggleButtons(options=[(REGIME_TITLES[r], r) for r in REGIMES], value=regime,
                                                   style={"button_width": "auto"})
        self.step_slider = widgets.IntSlider(value=first.index, min=0, max=len(steps) - 1, description="step",
                                             continuous_update=False)
        self.step_title = widgets.HTML()
        self.status = widgets.HTML()
        self.numbers = widgets.HTML(layout=widgets.Layout(width="55%"))
        self.difference = widgets.HTML(layout=widgets.Layout(width="45%"))
        self.picture = _image()
        for w, css in [(self.regime_picker, "cl-regime"), (self.step_slider, "cl-step-slider"),
                       (self.step_title, "cl-step-title"), (self.status, "cl-status"), (self.numbers, "cl-numbers"),
                       (self.difference, "cl-difference"), (self.picture, "cl-step-picture")]:
            w.add_class(css)
        super().__init__([self.regime_picker, widgets.HBox([self.step_slider, self.step_title]), self.status,
                          widgets.HBox([self.numbers, self.difference]), self.picture])
        self.add_class("cl-roadmap-explorer")
        self.summary: dict = {}
        self.last_update_seconds = float("nan")  # wall time of the last update (counting included)
        self._runs: dict[str, dict] = {}
        self.regime_picker.observe(self.update, "value")
        self.step_slider.observe(self.update, "value")
        self.update()

    def update(self, _change=None) -> None:
        """Show the step the controls point at (called by the widgets on every change)."""
        start = time.perf_counter()
        regime, index = self.regime_picker.value, self.step_slider.value
        if not is_counted(index, regime):
            self.status.value = f"<i>counting step {index} with fvcore (once; cached after) …</i>"
        if regime not in self._runs:
            self._runs[regime] = reference_runs(regime)
        self.summary = s = step_summary(index, regime, self._runs[regime])
        self.picture.value = step_picture(index, regime)
        adopted = "" if s["adopted"] else " <i>(a branch, not adopted)</i>"
        self.step_title.value = (f"<b class='cl-step-name'>{index}: {html.escape(s['label'])}</b>{adopted}"
                                 f" — {html.escape(s['change'])}")
        self.numbers.value = numbers_html(s)
        self.difference.value = f"<div style='line-height:1.4'>{difference_html(s)}</div>"
        self.status.value = ""
        self.last_update_seconds = time.perf_counter() - start

    def summary_text(self) -> str:
        s = self.summary
        return (f"ConvNeXt roadmap explorer ({REGIME_TITLES[s['regime']]}), step {s['index']}: {s['label']}: "
                f"{s['change']}\n{numbers_line(s)}\n(run the notebook for the interactive explorer)")


@lru_cache(maxsize=8)
def kernel_picture(kernel_size: int, stage: int = 1) -> bytes:
    """PNG of the effective receptive field of a kernel size next to kernel 3's (cached)."""
    kernels = (3, kernel_size) if kernel_size != 3 else (3,)
    fig = Figure(figsize=(3.1 * len(kernels), 3.6))
    axes = fig.subplots(1, len(kernels), squeeze=False)[0]
    for ax, k in zip(axes, kernels):
        field = effective_receptive_field(k, stage)
        r = field.radius(0.9)
        draw_receptive_field(field, ax, title=f"kernel {k}×{k} (step {KERNEL_STEPS[k]})\n"
                                               f"90% of the gradient within {2 * r + 1}×{2 * r + 1} px")
    fig.tight_layout(pad=0.8)
    return diagrams.figure_png(fig)


class KernelExplorer(_StaticFallback, widgets.VBox):
    """Sweep the depthwise kernel (3..11, roadmap steps 7-11): effective receptive field and FLOPs."""

    def __init__(self, kernel_size: int = 7, stage: int = 1):
        check_stage(kernel_config(check_kernel_size(kernel_size)), stage)
        self.stage = stage
        self.kernel_slider = widgets.IntSlider(value=kernel_size, min=KERNEL_SIZES[0], max=KERNEL_SIZES[-1], step=2,
                                               description="kernel", continuous_update=False)
        self.status = widgets.HTML()
        self.numbers = widgets.HTML()
        self.picture = _image()
        for w, css in [(self.kernel_slider, "cl-kernel-slider"), (self.status, "cl-status"),
                       (self.numbers, "cl-kernel-numbers"), (self.picture, "cl-kernel-picture")]:
            w.add_class(css)
        super().__init__([self.kernel_slider, self.status, widgets.HBox([self.picture, self.numbers])])
        self.add_class("cl-kernel-explorer")
        self.summary: dict = {}
        self.last_update_seconds = float("nan")
        self.kernel_slider.observe(self.update, "value")
        self.update()

    def update(self, _change=None) -> None:
        start = time.perf_counter()
        k = self.kernel_slider.value
        index = KERNEL_STEPS[k]
        self.status.value = f"<i>measuring the receptive field of kernel {k} …</i>"
        field = effective_receptive_field(k, self.stage)
        counts = step_counts(index)
        step = get_step(index)
        self.summary = s = {
            "kernel_size": k, "step": index, "label": step.label, "adopted": step.adopted, "stage": self.stage,
            "theoretical_rf": field.theoretical, "erf_side_50": 2 * field.radius(0.5) + 1,
            "erf_side_90": 2 * field.radius(0.9) + 1, "erf_rms_radius": field.rms_radius,
            "params": counts.params, "gflops_paper_convention": counts.gflops_paper_convention,
            "gflops_fvcore": counts.gflops_fvcore, "paper_gflops": step.paper_gflops, "paper_top1": step.paper_top1,
        }
        self.picture.value = kernel_picture(k, self.stage)
        adopted = "adopted" if s["adopted"] else "a branch, not adopted"
        row = '<tr><td style="padding-right:1em">{}</td><td class="{}" style="text-align:right">{}</td></tr>'
        self.numbers.value = (
            f"<div style='line-height:1.4'><b>kernel {k}×{k}</b> = step {index} ({html.escape(s['label'])}, {adopted})<table>"
            + row.format(f"theoretical receptive field, end of stage {self.stage + 1}", "cl-theoretical-rf",
                         f"{s['theoretical_rf']} px")
            + row.format("effective: square holding 50% of the gradient", "cl-erf-50", f"{s['erf_side_50']} px")
            + row.format("effective: square holding 90%", "cl-erf-90", f"{s['erf_side_90']} px")
            + row.format("parameters", "cl-params", f"{s['params']:,}")
            + row.format("GFLOPs, paper convention", "cl-gflops-paper", f"{s['gflops_paper_convention']:.3f}")
            + row.format("GFLOPs, fvcore default", "cl-gflops-fvcore", f"{s['gflops_fvcore']:.3f}")
            + row.format("paper: GFLOPs, ImageNet-1K top-1", "cl-paper",
                         f"{s['paper_gflops']:.2f}, {s['paper_top1']:.2f}%")
            + "</table><small>Receptive fields: the step's network 4x narrower, random weights, 128×128 random "
              "images (<code>convnext_lesson.teach.show.receptive_field</code>). Counts: the full network at 224×224."
              "</small></div>")
        self.status.value = ""
        self.last_update_seconds = time.perf_counter() - start

    def summary_text(self) -> str:
        s = self.summary
        return (f"kernel explorer: kernel {s['kernel_size']}x{s['kernel_size']} (step {s['step']}): effective "
                f"receptive field {s['erf_side_90']} px (90%), theoretical {s['theoretical_rf']} px; "
                f"{s['gflops_paper_convention']:.3f} GFLOPs, {s['params']:,} params\n"
                "(run the notebook for the interactive explorer)")


def roadmap_explorer(regime: str = "resnet50", step=0) -> RoadmapExplorer:
    """The roadmap explorer widget; ``step`` by index or name. Make it a cell's value to show it."""
    _enable_colab_widgets()
    return RoadmapExplorer(regime, step)


def kernel_explorer(kernel_size: int = 7, stage: int = 1) -> KernelExplorer:
    """The depthwise-kernel explorer widget (kernel 3, 5, 7, 9 or 11; ``stage`` 0-3 whose centre unit is used)."""
    _enable_colab_widgets()
    return KernelExplorer(kernel_size, stage)
