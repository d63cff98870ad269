"""convnext_lesson: ResNet-50 to ConvNeXt, one step at a time.

Three rooms: ``model`` (the networks: config, layers, roadmap, counting, weight layouts), ``training``
(running them: data, recipes, the Trainer, checkpoints, records) and ``teach`` (what the notebooks
use). ``model`` imports nothing else of the package, ``training`` only ``model``, and only ``teach``
and this front door import ``teach`` (tests/test_layout.py). Everything public is re-exported here.
"""
from .model import (FAMILY, REGIMES, NetConfig, Network, Step, build_convnext, build_model, config, convnext_config,
                    count_flops, count_params, count_roadmap, count_step, counting, flop_report, get_step,
                    load_official_weights, load_torchvision_weights, roadmap, roadmap_steps, to_official_state_dict,
                    to_torchvision_state_dict, weights)
from .teach import colab, notebook
from .teach.lab import exercises, pretrained
from .teach.show import diagrams, layer_costs, lesson, receptive_field
from .teach.colab import use_drive
from .teach.doctor import check_environment
from .teach.notebook import setup_notebook
from .training import benchmark, checkpoint, data, distributed, download, engine, profiles, recipes, results
from .training.data import locate as locate_dataset
from .training.datasets import DATASETS
from .training.ladder import ladder, plot_roadmap
from .training.profiles import PROFILES, get_profile
from .training.recipes import get_recipe
from .training.results import read_record, reference_results, write_record
from .training import RunPlan, RunResult, execute, plan_run, train

__version__ = "0.1.0"

__all__ = ["NetConfig", "Network", "Step", "FAMILY", "REGIMES", "build_model", "build_convnext",
           "convnext_config", "get_step", "roadmap_steps", "count_flops", "count_params", "count_roadmap",
           "count_step", "flop_report", "load_torchvision_weights", "to_torchvision_state_dict",
           "load_official_weights", "to_official_state_dict", "setup_notebook", "check_environment", "roadmap_explorer",
           "kernel_explorer", "DATASETS", "locate_dataset", "ladder", "plot_roadmap", "PROFILES", "get_profile",
           "get_recipe", "read_record", "reference_results", "write_record", "RunResult", "train", "RunPlan",
           "plan_run", "execute",
           "benchmark", "data", "diagrams", "exercises", "layer_costs", "lesson", "pretrained", "profiles",
           "receptive_field", "colab", "use_drive"]


def __getattr__(name):
    # The widgets need ipywidgets, which a training machine may not have: import them on first use.
    if name in ("roadmap_explorer", "kernel_explorer", "explorer"):
        import importlib

        explorer = importlib.import_module(f"{__name__}.teach.show.explorer")
        return explorer if name == "explorer" else getattr(explorer, name)
    raise AttributeError(f"module 'convnext_lesson' has no attribute {name!r}")
