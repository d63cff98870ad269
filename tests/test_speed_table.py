"""Notebook 09's speed table: real-size setups, every repeat kept, conclusions computed from the timings."""
import dataclasses

import matplotlib
import pytest

from convnext_lesson.model.threads import one_thread
from convnext_lesson.teach.show import speed_table
from convnext_lesson.teach.show.speed_table import StepSpeed, Timing

matplotlib.use("Agg")


def test_the_cpu_setup_times_the_cpu_profiles_networks_at_their_size():
    setup = speed_table.speed_setup("cpu")
    assert (setup.image_size, setup.batch_size, setup.width_mult, setup.num_classes) == (64, 64, 0.5, 10)
    assert setup.warmup >= 1 and setup.repeats >= 5
    assert setup.channels_last and setup.threads == speed_table.usable_cores()  # as the cpu profile trains
    assert "channels-last" in setup.description and f"{setup.threads} thread" in setup.description
    net = setup.build(16)
    assert net.config.widths == (48, 96, 192, 384) and net.config.depths == (2, 2, 6, 2)
    full = speed_table.speed_setup("cuda")
    assert (full.image_size, full.width_mult, full.depth_mult, full.channels_last) == (224, 1.0, 1.0, True)
    assert full.build(16).config.widths == (96, 192, 384, 768)


def test_timing_summarises_its_repeats():
    timing = Timing([100.0, 80.0, 120.0, 90.0, 110.0])
    assert (timing.median, timing.low, timing.high) == (100.0, 80.0, 120.0)
    assert timing.spread == pytest.approx(0.4)


def test_speed_change_says_no_difference_when_the_ranges_overlap():
    assert speed_table.speed_change(Timing([200, 210, 190]), Timing([100, 105, 95])).startswith("ran 2.00x faster")
    assert speed_table.speed_change(Timing([50, 52, 48]), Timing([100, 105, 95])).startswith("ran 2.00x slower")
    overlapping = speed_table.speed_change(Timing([110, 150, 100]), Timing([100, 105, 95]))
    assert overlapping.startswith("showed no clear difference") and "ratio 1.10" in overlapping


def test_conclusion_compares_only_measured_steps():
    rows = {3: StepSpeed(3, "patchify", 4.0, {"train": Timing([100, 101, 99])}),
            4: StepSpeed(4, "depth conv", 2.0, {"train": Timing([150, 152, 148])})}
    text = speed_table.conclusion(rows, 4, 3, "train")
    assert text == ("train: step 4 (depth conv) has 2.00x fewer FLOPs than step 3 (patchify) and ran 1.50x faster "
                    "here (150 vs 100 img/s; the ranges of the repeats do not overlap).")
    rows[0] = StepSpeed(0, "ResNet-50", 3.99, {"train": Timing([150, 149, 151])})
    assert "about the same FLOPs as step 3" in speed_table.conclusion(rows, 0, 3, "train")
    with pytest.raises(ValueError, match="step 9 was not measured; measured: 3, 4, 0"):
        speed_table.conclusion(rows, 9, 3, "train")
    assert speed_table.noise_note(rows) == "largest spread in this run: 3% (step 4, train): a quiet run"
    rows[16] = StepSpeed(16, "ConvNeXt-T", 4.46, {"train": Timing([50, 80, 100])})
    assert speed_table.noise_note(rows).startswith("largest spread in this run: 62% (step 16, train): the machine")


def test_measure_steps_times_real_networks_and_keeps_every_repeat():
    # tiny tensors on one thread: a second thread only waits (several times slower on a busy CPU)
    tiny = dataclasses.replace(speed_table.speed_setup("cpu"), image_size=32, batch_size=2, repeats=3, threads=1)
    lines = []
    with one_thread():
        before = speed_table.torch.get_num_threads()
        rows = speed_table.measure_steps([4, "kernel_7"], tiny, modes=("inference", "train"), log=lines.append)
        assert speed_table.torch.get_num_threads() == before  # the setup's threads are put back
    assert list(rows) == [4, 9]
    row = rows[4]
    assert row.label == "depth conv" and 0 < row.gflops < rows[9].gflops
    assert [len(t.rates) for t in row.timings.values()] == [3, 3] and all(r > 0 for r in row.timings["train"].rates)
    assert len(lines) == 2 and lines[0].startswith("step  4 depth conv") and "spread" in lines[0]
    fig = speed_table.plot(rows, tiny, "CPU")
    assert [ax.get_title() for ax in fig.axes] == ["inference, measured here (CPU)", "train, measured here (CPU)"]


def test_paper_numbers_are_labelled_as_the_papers(capsys):
    speed_table.show_paper_throughput()
    out = capsys.readouterr().out
    assert "the paper's numbers, not ours" in out and "774.7" in out and "Table 12" in out
