"""The CPU measurement's parts: oneDNN's verbose lines read, the report's ratios, the busy machine made and ended."""
import pytest

from convnext_lesson.training import cpu_speed

VERBOSE = """onednn_verbose,v1,primitive,exec,cpu,convolution,jit_dw:avx2,forward_training,src:f32,,mb64,0.5
== timed
onednn_verbose,v1,primitive,exec,cpu,convolution,jit_dw:avx2,forward_training,src:f32,,mb64,0.25
onednn_verbose,v1,primitive,exec,cpu,convolution,gemm:jit,backward_weights,src:f32,,mb64,9.0
onednn_verbose,v1,primitive,exec,cpu,convolution,gemm:jit,backward_weights,src:f32,,mb64,8.0
onednn_verbose,v1,info,cpu,isa:Intel AVX2
== done
onednn_verbose,v1,primitive,exec,cpu,convolution,jit_dw:avx2,forward_training,src:f32,,mb64,7.0
"""


def test_onednn_verbose_is_summed_per_kernel_inside_the_timed_steps_only():
    rows = cpu_speed.parse_onednn_verbose(VERBOSE, iterations=2)
    assert rows == [{"primitive": "convolution", "implementation": "gemm:jit", "direction": "backward_weights",
                     "ms_per_step": 8.5},
                    {"primitive": "convolution", "implementation": "jit_dw:avx2", "direction": "forward_training",
                     "ms_per_step": 0.125}]


def test_the_report_gives_each_busy_timing_as_a_ratio_of_the_quiet_one():
    rows = [{"step": 1, "threads": 2, "load": load, "dtype": "float32", "images_per_s": ips, "spread": 0.05,
             "gflops_per_s": ips * 0.3} for load, ips in (("quiet", 400.0), ("busy", 100.0))]
    report = {"cpu": "cpu (2 cores, X, AVX2)", "torch": "2.x", "native_bf16": False,
              "settings": [{"isa": "native", "wait_policy": "passive", "matmul_gflops": {"float32": 150.0}, "rows": rows}]}
    text = cpu_speed.format_report(report)
    busy = next(line for line in text.splitlines() if " busy " in line)
    assert busy.split()[-1] == "0.25" and "0.20" in busy  # 100 / 400 quiet; 30 GFLOP/s of 150
    assert "OpenMP wait policy passive" in text


def test_a_busy_machine_is_one_spinning_process_for_the_block_only():
    import psutil

    before = {p.pid for p in psutil.Process().children()}
    with cpu_speed.busy_machine(True):
        spinning = [p for p in psutil.Process().children() if p.pid not in before]
        assert len(spinning) == 1 and spinning[0].is_running()
    assert not spinning[0].is_running() or spinning[0].status() == psutil.STATUS_ZOMBIE


def test_the_command_names_the_valid_choices(capsys):
    from convnext_lesson.cli import main

    with pytest.raises(SystemExit):
        main(["cpu-speed", "--isa", "avx3"])
    assert "choose from 'native', 'avx2'" in capsys.readouterr().err
