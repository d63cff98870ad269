"""What the first cell of every notebook calls: where am I running, and how big will runs be."""
from __future__ import annotations

import torch

from ..model.threads import use_threads
from ..training.profiles import get_profile
from ..training.runtime import in_colab

COLAB_GPU_HINT = ("No GPU in this Colab session. For the colab profile: Runtime > Change runtime type > "
                  "Hardware accelerator: T4 GPU > Save, then run the notebook again. (Without a GPU the "
                  "notebook still runs, with the small cpu profile.)")


def setup_notebook(profile: str | None = None) -> None:
    """Print the device and the profile this notebook's runs will use; prepare widgets on Colab."""
    if in_colab():
        from google.colab import output  # ipywidgets 8 needs Colab's custom widget manager
        output.enable_custom_widget_manager()
        if not torch.cuda.is_available():
            print(COLAB_GPU_HINT)
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    elif torch.backends.mps.is_available():
        device = "CPU (an Apple GPU, mps, is present: the course does not use it by default; device='mps' is untested)"
    else:
        device = "CPU (no GPU found)"
    chosen = get_profile(profile)
    use_threads(chosen.threads)  # smoke: tiny tensors, where a second thread costs more than it saves
    print(f"torch {torch.__version__} | device: {device}")
    print(f"profile: {chosen.name} ({chosen.description})")
    print("change it with the CONVNEXT_LESSON_PROFILE environment variable (smoke, cpu, colab, full)")


def show_photos(fig, quality: int = 80, dpi: int = 80) -> None:
    """Show a figure of photographs as JPEG, which stores them in a tenth of a PNG's bytes."""
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    from .show.diagrams import figure_bytes

    photos = figure_bytes(fig, "jpeg", dpi, quality=quality)
    plt.close(fig)
    display(Image(data=photos, format="jpeg"))
