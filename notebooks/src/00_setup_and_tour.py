# %% [markdown]
# # 00 · Setup and tour
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/00_setup_and_tour.ipynb)
#
# In 2022, "A ConvNet for the 2020s" (Liu et al.) asked a simple question: Vision Transformers had
# overtaken convolutional networks on ImageNet, but was that the attention, or the many design choices
# that came with them? The authors took a plain ResNet-50 and changed it **one design decision at a time**
# toward the Swin Transformer's choices, measuring every step. The result, ConvNeXt, is a pure ConvNet that
# matches Swin. This course walks that roadmap: every step is a real network you build, count and train.
#
# This notebook checks your environment, shows the datasets and the *profiles* that size every training
# run, and gives you a first look at the whole roadmap. It trains nothing.
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **10 s**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07. It trains none of the roadmap's runs. `colab`:
# not timed on a T4 yet.
# <!-- time: end -->
#
# The time above is with the offline Imagenette pack already unpacked: a first run also unpacks it.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("convnext_lesson") is None:  # on Colab: install the course package once
    SOURCE = "git+https://github.com/convnext-lesson/convnext-lesson@v0.1.0"
    # offline or a private copy? SOURCE = "/content/convnext_lesson-0.1.0-py3-none-any.whl" (uploaded)
    # or SOURCE = "/content/drive/MyDrive/convnext-lesson" (a clone on Drive)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE], capture_output=True, text=True)
    if pip.returncode != 0:  # Colab hides a subprocess's output: show pip's, then stop
        print(pip.stdout[-3000:], pip.stderr[-3000:], sep="\n")
        raise RuntimeError(f"pip could not install the course from {SOURCE}: its output is above. "
                           "Is the runtime online? If not, set SOURCE as the comments above say.")
# end of the install cell's Colab part
import torch
import convnext_lesson as cl
cl.setup_notebook()

# %% [markdown]
# ## Check this machine
#
# The same check as `python -m convnext_lesson doctor` in a terminal: Python and the package versions
# against what the course needs, the device and the profile it will use and why, the datasets it finds,
# free memory and disk. A line marked FIX says what to do; NOTE lines work as they are. Your lines will
# differ from anyone else's: that is the point.

# %%
cl.check_environment()

# %% [markdown]
# ## Profiles: how big is a training run?
#
# Training a ResNet-50 on ImageNet takes days on eight GPUs. We train on **Imagenette** (10 easy ImageNet
# classes, 13,394 images) and size every run by one *profile* name, so the same notebook cell runs in
# seconds in CI and for real on a GPU. The profile is picked by the environment variable
# `CONVNEXT_LESSON_PROFILE`, or from your hardware (no GPU: `cpu`; a T4-class GPU: `colab`; an A100/H100:
# `full`). You never edit a cell to change it.

# %% tags=["nbval-check-output"]
print(f"{'profile':8s} {'dataset':16s} {'px':>4s} {'epochs':>6s} {'batch':>5s} {'width':>6s} {'depth':>6s}")
for p in cl.profiles.PROFILES.values():
    print(f"{p.name:8s} {p.dataset:16s} {p.image_size:4d} {p.epochs:6d} {p.batch_size:5d} "
          f"{p.width_mult:6.2f} {p.depth_mult:6.2f}")
for p in cl.profiles.PROFILES.values():
    print(f"\n{p.name}: {p.description}")

# %% [markdown]
# `width` and `depth` shrink the networks for small machines: every step keeps its own design (its
# kernel, its block, its stage ratio), only with fewer channels and blocks, so the *differences* between
# steps stay real. `smoke` is for tests: its numbers only prove that the code runs.
#
# Only the two CPU profiles are measured: `smoke` and `cpu` were timed on 2-core machines (every committed
# `cpu` reference run records its wall time and whether the machine was quiet; the README's "This CPU,
# measured" puts each step's quiet speed beside the recorded one, and `python -m convnext_lesson cpu-speed`
# measures yours). The `colab` and `full` sizes, and the time per step that `colab`'s description gives,
# are **estimates**: no GPU has been available to the project yet, so no run has measured them.

# %% [markdown]
# ## Datasets
#
# Imagenette is the main dataset; Imagewoof (10 dog breeds, much harder) and CIFAR-10 are options. Online,
# `cl.data.locate(name, download_missing=True)` downloads the official archive with a progress bar and
# checks its checksum; offline, point `CONVNEXT_LESSON_DATA` at a folder holding a copy. The course
# package ships a tiny real sample (20 images per class and split) for tests and offline demos, so it works
# from a bare pip install too.

# %% tags=["nbval-check-output"]
for info in cl.data.DATASETS.values():
    counts = f"{info.counts[0]:,} train / {info.counts[1]:,} val" if info.counts else ""
    print(f"{info.name:16s} {info.num_classes} classes  {counts:26s} {info.title}")

# %% [markdown]
# A few images of the dataset this profile trains on (the tiny sample under `smoke`):

# %%
import matplotlib.pyplot as plt

profile = cl.profiles.get_profile()
dataset = cl.data.locate(profile.dataset, download_missing=True)
print(f"{dataset.name}: {dataset.train_images} train / {dataset.val_images} val images, from {dataset.origin}")
images = cl.data.list_images(dataset, "train")
fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
for ax, cls in zip(axes.flat, range(10)):
    path = next(p for p, target in images if target == cls)
    ax.imshow(cl.data.load_image(path, 128))
    ax.set_title(dataset.classes[cls], fontsize=9)
    ax.axis("off")
fig.tight_layout()
cl.notebook.show_photos(fig)   # photographs as JPEG: a tenth of a PNG's bytes

# %% [markdown]
# ## On Colab: keep your runs in Google Drive
#
# A Colab runtime forgets everything when it ends: checkpoints, results and the downloaded dataset.
# `cl.use_drive()` mounts your Google Drive (Colab asks for access) and keeps them in its folder
# `MyDrive/convnext-lesson`: a run cut off in one runtime resumes from its last checkpoint in the next,
# and the dataset is not downloaded again. Each Colab notebook has its own runtime, so call it near the
# top of every notebook whose runs you want to keep. On your own machine runs stay on your disk and
# nothing is needed. (How Drive's filesystem treats the course's checkpoint writes is not yet tried on a
# real Drive: the README's Colab section says what is known.)

# %%
USE_DRIVE = False  # on Colab: True keeps runs and data in your Google Drive
if not cl.colab.in_colab():
    print("Not on Colab: runs and data stay on this machine's disk; Drive is not needed.")
elif USE_DRIVE:
    cl.use_drive()
else:
    print("On Colab without Drive: runs and data are lost when this runtime ends. "
          "To keep them, set USE_DRIVE = True above and run this cell again.")

# %% [markdown]
# ## The roadmap at a glance
#
# Seventeen steps take ResNet-50 to ConvNeXt-T. Each is the step before plus **one** named change; the
# paper trained every step on ImageNet for 300 epochs and reports its top-1 accuracy and its GFLOPs
# (Table 10 of the paper, printed as it is; where our count differs, a footnote says by how much):

# %% tags=["nbval-check-output"]
print(f"{'step':>4}  {'change':24s} {'paper top-1':>11s} {'paper GFLOPs':>12s}   notebook")
notebook_of = {0: "01", 1: "02", 2: "03", 3: "03", 4: "04", 5: "04", 6: "05", 16: "08"}
for step in cl.roadmap_steps():
    label = step.label + ("" if step.adopted else " (branch)")
    where = notebook_of.get(step.index, "06" if step.index <= 11 else "07")
    printed = step.paper_table_gflops          # as Table 10 prints it, typos included
    mark = "*" if step.paper_printed_gflops else " "
    print(f"{step.index:>4}  {label:24s} {step.paper_top1:11.2f} {printed:11.2f}{mark}   {where}")
print("paper: ImageNet-1K, Table 10 (top-1: mean of 3 seeds, 300 epochs)")
for step in cl.roadmap_steps():
    if step.paper_printed_gflops:
        print(f"* step {step.index}: {step.note}")

# %% [markdown]
# Move the slider to walk the roadmap: each step's change, its block, its cost per stage, and how it
# differs from the step before. (On GitHub, without a running kernel, you see a still picture.)

# %%
cl.roadmap_explorer()

# %% [markdown]
# A taste of notebook 06: ConvNeXt's 7x7 depthwise kernels see further than ResNet's 3x3. The *effective*
# receptive field is measured from gradients: how much each input pixel moves the centre output. The
# networks measured here have **random weights** (no trained weights exist for these intermediate steps),
# so the picture shows what each design can see at initialisation, not what a trained network uses.

# %%
cl.kernel_explorer()

# %% [markdown]
# ## How to read the series
#
# | notebook | roadmap steps |
# | --- | --- |
# | 01 ResNet-50 | 0: the starting point, built by hand and proved equal to torchvision's |
# | 02 training recipe | 1: AdamW, warmup + cosine, Mixup, CutMix, RandAugment, label smoothing, ... |
# | 03 macro design | 2-3: stage ratio, patchify stem |
# | 04 ResNeXt-ify | 4-5: depthwise conv, width 96 |
# | 05 inverted bottleneck | 6 |
# | 06 large kernels | 7-11: move the depthwise conv up, kernel 3..11, receptive fields |
# | 07 micro design | 12-15: GELU, fewer activations, fewer norms, BN -> LN |
# | 08 ConvNeXt | 16: separate downsampling; equality with torchvision; the family |
# | 09 FLOPs are not speed | measured throughput of the steps |
# | 10 pretrained ConvNeXt | using and fine-tuning published weights |
#
# Every step notebook follows the same pattern: where we are -> what changes and why -> the change in
# code (a few lines) -> count it, next to the paper -> train it (sized by your profile) -> where we are
# now -> exercises that check themselves. Numbers from the paper and numbers from us are always labelled.
