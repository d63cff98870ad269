"""The speed harness: it times real work and writes the table notebook 09 reads."""
import json

import pytest

import convnext_lesson as cl
from convnext_lesson.training.benchmark import (layer_intensity, measure_throughput, show_reference_throughput,
                                             throughput_study)


def test_measure_throughput_on_cpu():
    result = measure_throughput(cl.build_model(16, num_classes=10), mode="train", batch_size=2, image_size=32,
                                warmup=1, repeats=2, iters_per_repeat=1)
    assert result.images_per_s > 0 and result.device == "CPU" and result.dtype == "float32"
    with pytest.raises(ValueError, match="valid: inference, train"):
        measure_throughput(cl.build_model(16), mode="backward")


def test_layer_intensity_counts_bytes_and_macs():
    dw = layer_intensity("dwconv", channels=96, size=56, kernel=7)
    assert dw["MMACs"] == pytest.approx(96 * 49 * 56 * 56 / 1e6)
    assert dw["MACs per byte"] < layer_intensity("pwconv", channels=96, size=56)["MACs per byte"]
    assert layer_intensity("gelu", channels=96, size=56)["MACs per byte"] == 0


def test_throughput_study_table_is_what_notebook_09_reads(tmp_path, capsys):
    table = throughput_study([16], batch_size=2, image_size=32, repeats=1, compile=False, warmup=1,
                             iters_per_repeat=1, log=lambda *_: None)
    assert [r["step"] for r in table["rows"]] == [16]
    assert set(table["torchvision_comparison"]) == {"resnet50", "convnext_tiny"}
    assert table["provenance"]["torch"] and table["provenance"]["image_size"] == 32
    path = tmp_path / "throughput.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    show_reference_throughput(path)
    out = capsys.readouterr().out
    assert "sep. d.s. conv" in out and "batch 2, 32 px" in out
    show_reference_throughput(tmp_path / "missing.json")
    assert "No GPU reference measurements" in capsys.readouterr().out
