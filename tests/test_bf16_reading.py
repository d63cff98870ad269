"""The bf16 rule read as written: inside the band and fast enough, the default; inside but slow, an option."""
import json

from convnext_lesson.teach.readings import bf16
from convnext_lesson.training import results


def fake_record(step, seed, top1, amp):
    return {"schema_version": results.SCHEMA_VERSION, "kind": results.KIND, "step": step, "regime": "resnet50",
            "profile": "cpu", "dataset": {"name": "imagenette"}, "image_size": 64, "epochs": 12, "seed": seed,
            "top1": top1, "top5": 90.0, "params": 1, "gflops": {}, "wall_time_s": 1.0, "history": [], "amp": amp}


def write(folder, records):
    for i, r in enumerate(records):
        results.write_record(r, folder / f"r{i}.json")


def test_the_rule_reads_the_default_an_option_or_a_warning(tmp_path):
    ladder, runs = tmp_path / "ladder", tmp_path / "bf16"
    write(ladder, [fake_record(s, seed, top, "none") for s, tops in ((1, (74.0, 75.0, 74.5)), (16, (67.5, 69.5, 68.0)))
                   for seed, top in enumerate(tops)])
    assert bf16.reading(None, runs, ladder)["decision"] == "not run yet: step(s) 1, 16"
    write(runs, [fake_record(s, seed, top, "bf16") for s, tops in ((1, (74.2, 74.9, 74.4)), (16, (68.0, 69.0, 67.9)))
                 for seed, top in enumerate(tops)])
    assert bf16.reading({1: 1.6, 16: 1.3}, runs, ladder)["decision"].startswith("bf16 is the cpu profile's default")
    read = bf16.reading({1: 1.6, 16: 1.1}, runs, ladder)
    assert read["holds"] and read["decision"].startswith("bf16 stays an option (amp='bf16')")
    write(tmp_path / "low", [fake_record(16, seed, 60.0, "bf16") for seed in range(3)]
          + [fake_record(1, seed, 74.5, "bf16") for seed in range(3)])
    read = bf16.reading({1: 1.6, 16: 1.3}, tmp_path / "low", ladder)
    assert read["holds"] is False and "warning" in read["decision"] and not read["rows"][16]["inside"]
