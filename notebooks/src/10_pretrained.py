# %% [markdown]
# # 10 · Pretrained ConvNeXt: using, fine-tuning and porting published weights
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/10_pretrained.ipynb)
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **50 s**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07. It trains none of the roadmap's runs. `colab`:
# not timed on a T4 yet.
# <!-- time: end -->
#
# That time includes the notebook's short fine-tuning run (not a roadmap run: nothing of it goes into
# the runs folder).
#
# **Where we are.** Notebook 08 proved that our step-16 network *is* ConvNeXt-T, tensor for tensor. The
# paper trained it for 300 epochs on ImageNet-1K, far beyond a course budget. In
# practice you start from published weights: classify images with them directly, or **fine-tune** them
# on your own, smaller dataset. This notebook does both with torchvision's ImageNet weights, and shows the
# same weights in the layouts of the other libraries you will meet: the authors' code, timm and Hugging
# Face.
#
# **You will:** read a weights file's metadata · load it into our network · classify Imagenette images
# with ImageNet's 1000 classes · give the network a new 10-class head and fine-tune it · port tensor names
# between five layouts · do two exercises.
#
# **Online or offline.** The weights are a download. With them (online, or a copy already in PyTorch's
# cache) this notebook shows everything above. Without them it shows only what holds for *any* weights:
# the metadata, the mapping from Imagenette's classes to ImageNet's outputs, that our network computes
# exactly what torchvision's does, the five layouts and their round trips, and that the fine-tuning code
# runs. It shows **no predictions** then, and cannot say what pretrained weights are worth. The committed
# copy of this notebook was run offline, under the `smoke` profile.

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
import copy
import torch
import torchvision
import convnext_lesson as cl
from convnext_lesson.teach.lab import pretrained
from convnext_lesson.teach.notebook import show_photos
import matplotlib.pyplot as plt
cl.setup_notebook()

# %% [markdown]
# ## The published weights
#
# torchvision publishes ConvNeXt-T weights trained on ImageNet-1K. Each weights entry carries its own
# metadata (what it was trained on, how well it does, how to prepare images), readable without downloading
# anything:

# %% tags=["nbval-check-output"]
weights = torchvision.models.ConvNeXt_Tiny_Weights.IMAGENET1K_V1
meta = weights.meta
print("file:       ", weights.url.rsplit("/", 1)[-1], f"({meta['_file_size']} MB)")
print("parameters: ", f"{meta['num_params']:,}")
print("GFLOPs:     ", meta["_ops"], "(torchvision's count: conv + linear multiply-accumulates, as the paper's)")
print("ImageNet-1K:", meta["_metrics"]["ImageNet-1K"], "(torchvision's own training recipe)")
print("recipe:     ", meta["recipe"])
print("paper:       ConvNeXt-T top-1", cl.FAMILY["T"]["paper_top1"], "(Table 1, the authors' 300-epoch recipe)")
print("classes:    ", len(meta["categories"]), "e.g.", meta["categories"][:3])
print("transforms: ", weights.transforms())

# %% [markdown]
# Two things to notice. These weights reach 82.52% top-1 by *torchvision's* measurement, above the
# paper's 82.1: torchvision trained them again with its own recipe (the link above). Same network, different
# training, different number; always say whose number you quote. And the transforms are part of the
# weights: images must be prepared the way they were in training (resize to 236, centre-crop 224, scale
# to [0, 1], normalise with ImageNet's mean and standard deviation), or the accuracy drops.
#
# ## Getting them (only when online)
#
# The file (its size is printed above) is downloaded once into PyTorch's cache. Tests, CI and the `smoke`
# profile never download. Without the file, the checks below run on a **randomly initialised stand-in**
# of the same network: enough to prove that two networks compute the same thing, meaningless as a
# classifier, so no prediction is shown from it.

# %%
real_weights, why = pretrained.weights_available(weights)   # a 2-second connection test, at most
print(why)
if real_weights:
    reference = torchvision.models.convnext_tiny(weights=weights).eval()
    WEIGHTS = "torchvision's ImageNet-1K weights"
else:
    torch.manual_seed(0)
    reference = torchvision.models.convnext_tiny().eval()
    WEIGHTS = "a random stand-in (no weights file here): checks only, no predictions"
print("using:", WEIGHTS)

# %% [markdown]
# ## A few Imagenette images, prepared as the weights expect
#
# One validation image per class of the dataset your profile uses (under `smoke`, the tiny sample that
# ships with the course), each put through `weights.transforms()`:

# %% tags=["nbval-check-output"]
dataset = cl.data.locate(pretrained.finetune_size()[1].dataset, download_missing=True)   # the fine-tuning data
val = cl.data.list_images(dataset, "val")
picks = [next(path for path, target in val if target == k) for k in range(len(dataset.classes))]
preprocess = weights.transforms()
originals = [cl.data.load_image(path) for path in picks]
images = torch.stack([preprocess(im) for im in originals])
print(f"{dataset.name}: {len(dataset.classes)} classes; batch {tuple(images.shape)}, "
      f"mean {images.mean():.1f}, std {images.std():.1f} (normalised)")   # 1 decimal: the same on every CPU

# %% [markdown]
# ## Into our network
#
# `cl.load_torchvision_weights` renames torchvision's tensors to ours (and reshapes the 1x1 convs: Linear
# layers there, Conv2d here). Same weights, same images: the logits must agree.

# %% tags=["nbval-check-output"]
ours = cl.load_torchvision_weights(cl.build_model(16), reference.state_dict()).eval()
with torch.no_grad():
    logits = ours(images)                                             # all ten images, used below
    difference = (logits[:3] - reference(images[:3])).abs().max().item()
print(f"parameters: ours {cl.count_params(ours):,} | torchvision {cl.count_params(reference):,}")
print("same logits as torchvision on three of them (max |difference| <= 1e-4):", difference <= 1e-4)

# %% [markdown]
# ## Imagenette's classes are ImageNet classes
#
# Imagenette is ten classes of ImageNet, so an ImageNet classifier can label its images without any
# training. We only need to know which of the 1000 outputs belongs to which Imagenette class. The folders
# are named by **WordNet ids** (`n01440764`); torchvision's metadata lists the 1000 class *names* in output
# order, not the ids. So we go id -> name (the ten names are listed in the fastai/imagenette README) ->
# output index (the position of that name in `meta["categories"]`). A check that the mapping is right:
# ImageNet's output order is the sorted order of its WordNet ids, so sorted ids must get increasing indices.

# %% tags=["nbval-check-output"]
wnids = dataset.classes
indices = pretrained.imagenette_to_imagenet(wnids, meta["categories"])
for wnid, index in zip(wnids, indices):
    print(f"  {wnid}  ->  {pretrained.IMAGENETTE_CLASSES[wnid]:18s} ImageNet output {index:3d}")
print("sorted ids give increasing indices:", wnids == sorted(wnids) and indices == sorted(indices))

# %% [markdown]
# Now the predictions, when there are real weights: the top ImageNet class of each image (any of the
# 1000), and the best of the ten Imagenette classes (a green title when that one is right). Without them
# the cell shows the photographs with their true classes only.

# %%
if real_weights:
    probabilities = logits.softmax(dim=1)
    among_ten = logits[:, indices].argmax(dim=1)
    tops = probabilities.argmax(dim=1)
    titles = [f"true: {pretrained.IMAGENETTE_CLASSES[wnid]}\ntop-1 of 1000: {meta['categories'][top]} "
              f"({probabilities[k, top]:.0%})" for k, (wnid, top) in enumerate(zip(wnids, tops.tolist()))]
    colors = ["green" if among_ten[k] == k else "firebrick" for k in range(len(wnids))]
    heading = f"ConvNeXt-T with {WEIGHTS}: its predictions"
else:
    titles = [f"true: {pretrained.IMAGENETTE_CLASSES[wnid]}" for wnid in wnids]
    colors, heading = None, "Imagenette validation images (no ImageNet weights here, so no predictions)"
show_photos(pretrained.photo_grid(originals, titles, colors, heading))
if real_weights:
    print(f"best of the ten Imagenette classes: {(among_ten == torch.arange(len(wnids))).sum().item()} of "
          f"{len(wnids)} right ({WEIGHTS})")
else:
    print("No predictions: without the weights file the network is a random stand-in, and its outputs are noise.")

# %% [markdown]
# One caution for real weights: Imagenette's images come from ImageNet, so the network may have seen some
# of them during its training, and its score on them can be optimistic.
#
# ## The same tensors in five layouts
#
# A trained ConvNeXt-T is 182 tensors; every library names them differently, and a checkpoint only loads
# into code that uses its names (a frequent question on the official repository's issue tracker,
# facebookresearch/ConvNeXt). Here are a few tensors
# of the network above in our layout, torchvision's, the authors' (facebookresearch/ConvNeXt), timm's and
# Hugging Face's (`ConvNextForImageClassification`). The timm and Hugging Face names follow those
# libraries' model code (`timm/models/convnext.py`, with its `checkpoint_filter_fn` that renames the
# authors' checkpoints, and `transformers/models/convnext/modeling_convnext.py`); neither library is
# installed here, so the course's tests check the converters against a forward pass written from those
# names.

# %% tags=["nbval-check-output"]
table = {row["ours"][0]: row for row in pretrained.layout_table(ours)}
for name in ("stem.conv.weight", "stages.1.downsample.conv.weight", "stages.0.blocks.0.conv1.weight",
             "stages.0.blocks.0.norm1.weight", "stages.0.blocks.0.conv2.weight", "stages.0.blocks.0.layer_scale",
             "head.norm.weight", "head.fc.weight"):
    print()
    for layout, (key, shape) in table[name].items():
        print(f"  {layout:12s} {key:62s} {shape}")
print(f"\n{len(table)} tensors in every layout")

# %% [markdown]
# Only names change, and two kinds of shape. Our 1x1 convs are `Conv2d` weights of shape (4C, C, 1, 1);
# the other layouts compute them as `Linear` layers on a channels-last tensor, (4C, C): the same numbers in
# the same order. The layer scale is (C, 1, 1) in torchvision's layout and ours, a vector (C,) elsewhere.
# timm and Hugging Face start from the authors' layout, and it shows: timm's `stem`, `stages.i.downsample`,
# `conv_dw`, `mlp.fc1`, `gamma`, `head.fc`; Hugging Face's `embeddings`, `encoder.stages.i.layers.j`,
# `layer_scale_parameter`, `classifier`. No layout has a separate downsampling layer before stage 1: the
# stem does that job (the authors' code even calls the stem `downsample_layers.0`).
#
# Round trips: export to each layout and load back into a network whose tensors are all zero. To make the
# check sharp we first give every norm, bias and layer scale random values (a fresh network has ones, zeros
# and 1e-6 there, so two such tensors swapped would go unnoticed).

# %% tags=["nbval-check-output"]
probe = copy.deepcopy(ours)
torch.manual_seed(0)
with torch.no_grad():
    for name, tensor in probe.state_dict().items():
        if tensor.dim() == 1 or name.endswith("layer_scale"):
            tensor.copy_(torch.rand_like(tensor) * 0.4 + 0.1)
small = torch.nn.functional.interpolate(images[:2], size=96, mode="bilinear", antialias=True)
fresh = copy.deepcopy(probe)
with torch.no_grad():
    for tensor in fresh.state_dict().values():
        tensor.zero_()                      # a tensor the loader missed would stay zero and change the logits
    expected = probe(small)
    for layout, export, load in (("official", cl.to_official_state_dict, cl.load_official_weights),
                                 ("timm", pretrained.to_timm_state_dict, pretrained.load_timm_weights),
                                 ("hf", pretrained.to_hf_state_dict, pretrained.load_hf_weights)):
        exported = export(probe)
        same = torch.equal(load(fresh, exported)(small), expected)
        print(f"{layout:9s} {len(exported)} tensors, round trip gives the same logits: {same}")

# %% [markdown]
# With those libraries installed, the exported dictionaries load directly (not run here):
#
# ```python
# import timm
# net = timm.create_model("convnext_tiny")            # timm's ConvNeXt-T, random init
# net.load_state_dict(pretrained.to_timm_state_dict(ours))
#
# from transformers import ConvNextConfig, ConvNextForImageClassification
# net = ConvNextForImageClassification(ConvNextConfig(num_labels=1000))   # defaults are ConvNeXt-T's sizes
# net.load_state_dict(pretrained.to_hf_state_dict(ours))
# ```
#
# One trap in the second: Hugging Face's final LayerNorm takes its epsilon from `config.layer_norm_eps`,
# whose default in transformers' `ConvNextConfig` is 1e-12, where the other layouts use 1e-6, so its logits
# differ from ours in the last
# digits. And the other way round, `pretrained.load_timm_weights(cl.build_model(16), timm_state_dict)`
# (or `load_hf_weights`) brings their checkpoints into our network, with an error that lists missing and
# unexpected names when a file does not fit.
#
# ## Fine-tuning on Imagenette
#
# To use the network on a new dataset, replace its classifier: 1000 ImageNet outputs become 10. Usually the
# new head starts random. Here every new class is also an ImageNet class, so we can do better and start the
# new head from the ten matching rows of the ImageNet classifier: with real weights it then classifies
# Imagenette before any training (the "best of the ten" above).

# %%
model = pretrained.replace_head(copy.deepcopy(ours), 10, rows=indices)
print(model.head)

# %% tags=["nbval-check-output"]
print(f"trainable parameters: {pretrained.trainable_params(model):,}")

# %% [markdown]
# `pretrained.finetune` trains it briefly: AdamW with a small learning rate for the pretrained backbone
# and a 10x larger one for the new head, a short warmup, cosine decay, light augmentation (random crops and
# flips), and mixed precision on a GPU. The profile decides how much (a few batches of the tiny sample at
# 32 px under `smoke`: this only proves the code runs; a short run on Imagenette under `cpu`; whole epochs
# on a GPU). It prints validation top-1 before and after. It runs on the same `Trainer` as `cl.train`: give
# it `out_dir=` to keep its checkpoints (`resume=True` continues an interrupted run).

# %%
if not real_weights:
    print("Starting from the random stand-in (no weights file here): this run shows that the fine-tuning code "
          "works, not what fine-tuning pretrained weights does.")
finetuned = pretrained.finetune(model)

# %% [markdown]
# For comparison, the same network and the same budget, starting from scratch (random weights, random
# head): what the pretrained weights are worth. This needs the real weights (without them both runs start
# from random weights, and there is nothing to compare), and a profile bigger than `smoke` to be worth
# reading.

# %%
if real_weights:
    scratch = pretrained.finetune(pretrained.replace_head(cl.build_model(16), 10))
    pretrained.plot_finetune({"pretrained start (ImageNet weights)": finetuned, "from scratch (random init)": scratch})
    plt.show()
else:
    print("Skipped: without the ImageNet weights there is no pretrained start to compare with training from scratch.")

# %% [markdown]
# A cheaper option is to **freeze the backbone** and train only the new classifier (a "linear probe"):
# a few thousand parameters instead of 28 million, no gradients through the backbone, and often nearly as good when
# the new classes resemble the old ones. `pretrained.finetune` trains only the parameters with
# `requires_grad=True`, so exercise 2 is all you need to try it.
#
# ## Exercises
#
# **1. Port a name.** Write `official_to_timm(key)`: given the name of a tensor in the authors' layout
# (left below), return its name in timm's layout. The check tries all 182 names of ConvNeXt-T.
#
# | official | timm |
# | --- | --- |
# | `downsample_layers.0.{0,1}.*` (stem) | `stem.{0,1}.*` |
# | `downsample_layers.i.{0,1}.*` (i = 1, 2, 3) | `stages.i.downsample.{0,1}.*` |
# | `stages.i.j.dwconv.*`, `.norm.*`, `.pwconv1.*`, `.pwconv2.*`, `.gamma` | `stages.i.blocks.j.conv_dw.*`, `.norm.*`, `.mlp.fc1.*`, `.mlp.fc2.*`, `.gamma` |
# | `norm.*`, `head.*` | `head.norm.*`, `head.fc.*` |

# %%
def official_to_timm(key):
    return None  # your code here (the re module helps)

cl.exercises.check("10.official_to_timm", official_to_timm)

# %% [markdown]
# **2. Freeze the backbone.** First predict: of the 10-class network's parameters counted above, how many
# stay trainable when only the classifier `model.head.fc` learns? Work it out from the classifier's shape.
# Then write `freeze_backbone(model)`: set `requires_grad = False` on every parameter except those of
# `model.head.fc`, and return the number of parameters left trainable; the check runs it on a fresh
# 10-class ConvNeXt-T. With the real weights, go on: fine-tune a frozen copy with `pretrained.finetune`
# and compare its top-1 and its time per epoch with the full fine-tune above. Which would you choose for
# a dataset whose classes ImageNet does not have?

# %%
def freeze_backbone(model):
    return None  # your code here

cl.exercises.check("10.freeze_backbone", freeze_backbone)

# %% [markdown]
# Stuck? `cl.exercises.solution("10.freeze_backbone")` prints a worked solution.
#
# **That is the series.** From ResNet-50 (notebook 01) through sixteen single changes to ConvNeXt-T, and
# now from its published weights to a network for your own data.
