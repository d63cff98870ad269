# %% [markdown]
# # 09 · FLOPs are not speed
#
# **Where we are.** Every step of the roadmap was judged at (almost) equal FLOPs. But a learner who
# times the networks finds that speed does not follow FLOPs: the depthwise step cuts FLOPs by 47% and the
# time by much less; ConvNeXt-T has about ResNet-50's FLOPs and trains slower. The paper says so itself: depthwise convs, GELU and
# LayerNorm are *memory-bound*. This notebook explains why, measures it on your machine, and shows the
# knobs that matter on a GPU (channels-last memory layout, mixed precision, `torch.compile`).

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("convnext_lesson") is None:  # on Colab: install the course package once
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/convnext-lesson/convnext-lesson"], check=True)
import torch
import convnext_lesson as cl
from convnext_lesson.training.benchmark import layer_intensity, measure_throughput, profile_sizes
cl.setup_notebook()

# %% [markdown]
# ## Two budgets: arithmetic and memory
#
# A layer takes at least as long as its arithmetic needs (multiply-accumulates / the chip's MAC rate) and
# at least as long as its data needs (bytes read and written / memory bandwidth). The ratio of the two,
# MACs per byte, is the layer's **arithmetic intensity**. A GPU does hundreds of MACs in the time it
# moves one byte, so a layer with an intensity of 5 leaves the arithmetic units idle: its speed is set by
# memory, and cutting its FLOPs changes nothing.
#
# The layers of one ConvNeXt block in stage 1 (96 channels, 56x56, float32):

# %% tags=["nbval-check-output"]
print(f"{'layer':10s} {'MMACs':>8s} {'MB moved':>9s} {'MACs/byte':>10s}")
for kind in ("dwconv", "layernorm", "pwconv", "gelu"):
    channels = 4 * 96 if kind == "gelu" else 96        # GELU acts on the 4x wider hidden tensor
    row = layer_intensity(kind, channels=channels, size=56, kernel=7)
    print(f"{row['layer']:10s} {row['MMACs']:8.1f} {row['MB moved']:9.2f} {row['MACs per byte']:10.1f}")

# %% [markdown]
# The 1x1 conv (`pwconv`) has 8x the MACs of the depthwise 7x7 and only about 2.5x the memory traffic;
# LayerNorm and GELU do no MACs at all, so FLOP counts call them free, yet each reads and writes the
# whole tensor. ResNet-50's dense 3x3 convs have a much higher intensity than a depthwise conv: they
# reuse each input value for every output channel.

# %% [markdown]
# ## Measured: images per second against GFLOPs
#
# Now the real thing on your device: inference throughput of a few roadmap steps (full-size networks).
# The batch and image size come from the profile; under the `smoke` profile these numbers only prove the
# code runs, under `cpu` or on a GPU they are worth reading. Each number is the median of several
# timed repeats after a warm-up.

# %%
batch, size, repeats = profile_sizes()
measured = {}
for index in (0, 4, 7, 9, 16):
    model = cl.build_model(index)
    speed = measure_throughput(model, batch_size=batch, image_size=size, repeats=repeats, warmup=1,
                               iters_per_repeat=2, channels_last=torch.cuda.is_available())
    measured[index] = speed.images_per_s
    print(f"step {index:2d} {cl.get_step(index).label:18s} {cl.count_step(index).gflops_paper_convention:5.2f} GFLOPs"
          f"  {speed.images_per_s:8.1f} images/s  (spread {speed.spread:.0%}, {speed.device}, batch {batch}, {size} px, profile {cl.profiles.get_profile().name})")

# %% [markdown]
# Compare the depthwise step (4) with the step before it... and ConvNeXt-T (16) with ResNet-50 (0):
# the ratio of speeds is far from the ratio of FLOPs.

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5.5, 3.5))
for index, rate in measured.items():
    gflops = cl.count_step(index).gflops_paper_convention
    ax.scatter(gflops, rate, color="tab:blue")
    ax.annotate(f" {index}: {cl.get_step(index).label}", (gflops, rate), fontsize=8)
ax.set_xlabel("GFLOPs at 224 px (paper convention)")
ax.set_ylabel(f"images/s (ours, {speed.device})")
ax.set_title(f"Measured here: batch {batch}, {size} px, profile {cl.profiles.get_profile().name}")
plt.show()

# %% [markdown]
# ## On a GPU: channels-last, mixed precision, torch.compile
#
# * **Channels-last** stores a tensor as (N, H, W, C), so the values of one pixel sit together. cuDNN's
#   fastest convolution kernels and LayerNorm over channels want this layout.
# * **Mixed precision** (bf16 on recent GPUs) halves the bytes of every activation: the memory-bound
#   layers get up to twice as fast, and matrix units run the convs.
# * **`torch.compile`** fuses chains of memory-bound operations (LayerNorm, GELU, layer scale, the residual
#   add) into fewer kernels that read and write the tensor once.
#
# Try them on a GPU runtime (they do little on a CPU):

# %%
if torch.cuda.is_available():
    model = cl.build_model(16)
    for channels_last in (False, True):
        for dtype in (torch.float32, torch.bfloat16):
            speed = measure_throughput(model, mode="train", batch_size=batch, image_size=size, dtype=dtype,
                                       channels_last=channels_last, repeats=repeats)
            print(f"ConvNeXt-T train, channels_last={channels_last!s:5s} {str(dtype):15s} {speed.images_per_s:8.1f} images/s")
else:
    print("No GPU here: this cell measures channels-last and bf16 on a GPU runtime.")

# %% [markdown]
# ## Our GPU reference measurements
#
# The course's reference study measures every roadmap step on an H100/H200 (training and inference,
# 224 px, batch 128, bf16, channels-last, eager and compiled). When it has been run, its table is part of
# the package and shows here; until then this cell says so rather than show a number nobody measured.

# %%
cl.benchmark.show_reference_throughput()

# %% [markdown]
# ## Exercise
#
# Write `dwconv_intensity(channels, size, kernel)`: the MACs per byte of a depthwise kxk conv (stride 1,
# same padding) in float32, counting the input and the output once and the weights once. Then predict:
# does a bigger kernel make the depthwise conv more or less memory-bound?

# %%
def dwconv_intensity(channels, size, kernel):
    return None  # your code here

cl.exercises.check("09.dwconv_intensity", dwconv_intensity)
