"""convnext_lesson: ResNet-50 to ConvNeXt, one step at a time."""
from .config import NetConfig
from .counting import count_flops, count_params, count_roadmap, flop_report
from . import exercises, lesson
from .model import Network, build_network
from .notebook import setup_notebook
from .roadmap import (FAMILY, REGIMES, Step, build_convnext, build_model, convnext_config, get_step,
                      roadmap_steps)
from . import diagrams, receptive_field
from .explorer import kernel_explorer, roadmap_explorer
from .weights import (load_official_weights, load_torchvision_weights, to_official_state_dict,
                      to_torchvision_state_dict)

__version__ = "0.1.0"

__all__ = ["NetConfig", "Network", "Step", "FAMILY", "REGIMES", "build_model", "build_network", "build_convnext",
           "convnext_config", "get_step", "roadmap_steps", "count_flops", "count_params", "count_roadmap",
           "flop_report", "load_torchvision_weights", "to_torchvision_state_dict", "load_official_weights",
           "to_official_state_dict", "exercises", "lesson", "setup_notebook"]
__all__ += ["diagrams", "receptive_field", "roadmap_explorer", "kernel_explorer"]
# training: datasets, recipes, profiles, the engine, results records, the ladder
from .data import DATASETS, locate as locate_dataset
from .ladder import ladder, plot_roadmap
from .profiles import PROFILES, get_profile
from .recipes import get_recipe
from .results import read_record, reference_results, write_record
from .training import RunResult, train

__all__ += ["DATASETS", "locate_dataset", "ladder", "plot_roadmap", "PROFILES", "get_profile", "get_recipe",
            "read_record", "reference_results", "write_record", "RunResult", "train"]
