"""convnext_lesson: ResNet-50 to ConvNeXt, one step at a time."""
from . import benchmark, data, diagrams, exercises, layer_costs, lesson, pretrained, profiles, receptive_field
from .config import NetConfig
from .counting import count_flops, count_params, count_roadmap, count_step, flop_report
from .data import DATASETS, locate as locate_dataset
from .ladder import ladder, plot_roadmap
from .model import Network, build_network
from .notebook import setup_notebook
from .profiles import PROFILES, get_profile
from .recipes import get_recipe
from .results import read_record, reference_results, write_record
from .roadmap import (FAMILY, REGIMES, Step, build_convnext, build_model, convnext_config, get_step,
                      roadmap_steps)
from .training import RunResult, train
from .weights import (load_official_weights, load_torchvision_weights, to_official_state_dict,
                      to_torchvision_state_dict)

__version__ = "0.1.0"

__all__ = ["NetConfig", "Network", "Step", "FAMILY", "REGIMES", "build_model", "build_network", "build_convnext",
           "convnext_config", "get_step", "roadmap_steps", "count_flops", "count_params", "count_roadmap",
           "count_step", "flop_report", "load_torchvision_weights", "to_torchvision_state_dict",
           "load_official_weights", "to_official_state_dict", "setup_notebook", "roadmap_explorer",
           "kernel_explorer", "DATASETS", "locate_dataset", "ladder", "plot_roadmap", "PROFILES", "get_profile",
           "get_recipe", "read_record", "reference_results", "write_record", "RunResult", "train",
           "benchmark", "data", "diagrams", "exercises", "layer_costs", "lesson", "pretrained", "profiles",
           "receptive_field"]


def __getattr__(name):
    # The widgets need ipywidgets, which a training machine may not have: import them on first use.
    if name in ("roadmap_explorer", "kernel_explorer", "explorer"):
        import importlib

        explorer = importlib.import_module(f"{__name__}.explorer")
        return explorer if name == "explorer" else getattr(explorer, name)
    raise AttributeError(f"module 'convnext_lesson' has no attribute {name!r}")
