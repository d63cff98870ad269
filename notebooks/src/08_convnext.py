# %% [markdown]
# # 08 · ConvNeXt: the finished network (step 16)
#
# **Where we are.** Notebooks 03-07 changed ResNet-50 fifteen times. One change is left: the
# downsampling. Then we check that what we built *is* ConvNeXt-T (the same network as torchvision's and the
# authors' code, weight for weight), meet layer scale, count the whole ConvNeXt family against the paper,
# and look back at the whole roadmap.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("convnext_lesson") is None:  # on Colab: install the course package once
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/convnext-lesson/convnext-lesson"], check=True)
import torch
from torch import nn
import convnext_lesson as cl
cl.setup_notebook()

# %% [markdown]
# ## Step 16: separate downsampling layers
#
# Until now a stage began with a block that did two jobs: halve the resolution (stride 2 in its
# depthwise conv) and widen the channels (a 1x1 stride-2 conv on its shortcut). Swin Transformer uses a
# separate layer between stages instead, and ConvNeXt does the same: a LayerNorm and a 2x2 stride-2 conv
# (the "patchify" idea again, at every stage). Every block now keeps its shape and has a plain identity
# shortcut. On its own this change made training diverge in the paper; the extra LayerNorms keep it
# stable: one before each downsampling conv, one after the stem and one before the classifier. The final
# model also multiplies each block's output by a learnable per-channel **layer scale**, initialised at
# 1e-6, so that every block starts close to the identity, and uses ConvNeXt's initialisation.

# %% tags=["nbval-check-output"]
cl.lesson.show_change(16)

# %%
model = cl.build_model(16)
print(model.stages[1].downsample)
print(model.stages[1].blocks[0])

# %% [markdown]
# The block now reads, top to bottom: depthwise 7x7 conv -> LayerNorm -> 1x1 conv to 4C -> GELU -> 1x1 conv
# back to C -> layer scale -> (stochastic depth) -> add the input. Shapes through the network:

# %% tags=["nbval-check-output"]
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    y = model.stem(x)
    print(f"{'stem':10s} {tuple(y.shape)}")
    for i, stage in enumerate(model.stages):
        y = stage.downsample(y)
        y = stage.blocks(y)
        print(f"stage {i + 1:<4d} {tuple(y.shape)}   {len(stage.blocks)} blocks")

# %% [markdown]
# ## Count it

# %% tags=["nbval-check-output"]
cl.lesson.step_table([15, 16])

# %% [markdown]
# Step 16 costs 0.31 GFLOPs more than step 15: a 2x2 conv does four times the work of the 1x1 shortcut
# conv it replaces, and the first block of each stage now works at the stage's full width from its first
# layer. The paper prints 4.49 in Table 10 for this step and 4.5 in Table 1; counted, ConvNeXt-T is 4.456
# GFLOPs, which is also what torchvision's metadata says.

# %% [markdown]
# ## Is it ConvNeXt-T? Three independent checks
#
# 1. **torchvision's `convnext_tiny`**: load its weights into our network, compare the logits.
# 2. **The authors' layout** (facebookresearch/ConvNeXt): their checkpoints name the same tensors
#    differently (`downsample_layers`, `stages.i.j.dwconv`, `gamma`, ...) and store the 1x1 convs as
#    `Linear` layers. We port in both directions.
# 3. **Parameters and FLOPs** equal torchvision's.
#
# Without internet we cannot download the trained weights here, so we give a torchvision model random
# values in *every* tensor (including LayerNorm and layer scale, which a fresh model sets to constants),
# so that any tensor loaded into the wrong place would change the logits.

# %% tags=["nbval-check-output"]
import torchvision

torch.manual_seed(0)
reference = torchvision.models.convnext_tiny().eval()
with torch.no_grad():
    for name, tensor in reference.state_dict().items():
        if tensor.dim() == 1 or name.endswith("layer_scale"):      # norms, biases, layer scale
            tensor.copy_(torch.rand_like(tensor) * 0.4 + 0.1)

ours = cl.load_torchvision_weights(cl.build_model(16), reference.state_dict()).eval()
images = torch.randn(4, 3, 224, 224)
with torch.no_grad():
    difference = (ours(images) - reference(images)).abs().max().item()
print(f"parameters: ours {cl.count_params(ours):,} | torchvision {cl.count_params(reference):,}")
print("same logits as torchvision (max |difference| <= 1e-5):", difference <= 1e-5)

# %% [markdown]
# Export to the authors' layout and look at a few of its names:

# %% tags=["nbval-check-output"]
official = cl.to_official_state_dict(ours)
print(len(official), "tensors")
for name in list(official)[:3] + ["stages.0.0.pwconv1.weight", "stages.0.0.gamma", "head.weight"]:
    print(f"  {name:32s} {tuple(official[name].shape)}")

# %% [markdown]
# And back: loading the official-layout tensors into a fresh network gives the same logits again.

# %% tags=["nbval-check-output"]
again = cl.load_official_weights(cl.build_model(16), official).eval()
with torch.no_grad():
    print("round trip through the official layout, same logits:",
          torch.allclose(again(images), ours(images), atol=1e-6))

# %% [markdown]
# With internet, the same three lines load the real ImageNet weights (notebook 10 does it):
# `torchvision.models.convnext_tiny(weights="IMAGENET1K_V1").state_dict()`.

# %% [markdown]
# ## The ConvNeXt family
#
# ConvNeXt-T/S/B/L/XL differ only in channels C and blocks per stage (Table 1 of the paper); all come
# from the same builder. Counted here against the paper's rounded numbers (counting XL takes a few seconds):

# %% tags=["nbval-check-output"]
print(f"{'model':12s} {'C':>22s} {'blocks':>13s} {'params':>9s} {'GFLOPs':>7s} │ {'paper params':>12s} {'GFLOPs':>7s} {'top-1':>6s}")
for variant, paper in cl.FAMILY.items():
    net = cl.build_convnext(variant)
    top1 = f"{paper['paper_top1']:.1f}" if paper["paper_top1"] else "n/a"
    print(f"ConvNeXt-{variant:3s} {str(paper['widths']):>22s} {str(paper['depths']):>13s} "
          f"{cl.count_params(net) / 1e6:8.1f}M {cl.count_flops(net):7.2f} │ "
          f"{paper['paper_params_m']:11.1f}M {paper['paper_gflops']:7.1f} {top1:>6s}")
    del net
print("paper: Table 1, ImageNet-1K top-1 at 224 px (XL: reported only with ImageNet-22K pre-training).")

# %% [markdown]
# ## Exercises
#
# **1. Make step 16 yourself.** Starting from step 15's configuration, write `my_step16_config()` that
# returns the `NetConfig` of ConvNeXt-T (use `cl.get_step(15).config.replace(...)`). The check builds it
# and compares with the real thing.

# %%
def my_step16_config():
    return None  # your code here: cl.get_step(15).config.replace(...)

cl.exercises.check("08.step16_config", my_step16_config)

# %% [markdown]
# **2. Layer scale.** Write `residual_branch_share(model, x)`: for the first block of stage 1, the ratio
# of the mean absolute value of the residual branch's output (after layer scale) to the mean absolute
# value of the block's input. A freshly initialised ConvNeXt should give a tiny number: why?

# %%
def residual_branch_share(model, x):
    return None  # your code here

cl.exercises.check("08.layer_scale", residual_branch_share)
