"""The model room: the networks of the roadmap and what is known about them without training.

``config`` (``NetConfig``), ``layers`` and ``network`` (one builder for every step), ``roadmap``
(the steps, the ConvNeXt family, the paper's numbers), ``counting`` (parameters and FLOPs),
``weights`` (the published layouts) and ``threads`` (CPU threads for a block of work). It imports
nothing else of the package.
"""
from .config import NetConfig
from .counting import count_flops, count_params, count_roadmap, count_step, flop_report, trainable_params
from .layers import Block, LayerNorm2d
from .network import Network, replace_head
from .roadmap import FAMILY, REGIMES, Step, build_convnext, build_model, convnext_config, get_step, roadmap_steps
from .threads import cpu_threads, one_thread
from .weights import (load_hf_weights, load_official_weights, load_timm_weights, load_torchvision_weights,
                      to_hf_state_dict, to_official_state_dict, to_timm_state_dict, to_torchvision_state_dict)
