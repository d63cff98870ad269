# %% [markdown]
# # 09 · FLOPs are not speed
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/09_flops_vs_speed.ipynb)
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **20 s**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07. It trains none of the roadmap's runs. `colab`:
# not timed on a T4 yet.
# <!-- time: end -->
#
# On a CPU this notebook times the networks of the `cpu` profile whatever the profile is; on a GPU it times
# the full-size networks and also runs the cells that time the GPU knobs.
#
# **Where we are.** Every step of the roadmap was judged at (almost) equal FLOPs. But FLOPs count
# arithmetic, and a network's speed also depends on how many bytes it moves. The paper notes that
# depthwise convs, GELU and LayerNorm are *memory-bound*, and that ConvNeXt-T trains slower than
# ResNet-50 although their FLOPs are about equal. This notebook explains why that can happen, then
# **measures** what happens on your machine: every statement about speed below is computed from timings taken in your run, printed with
# their spread. Last, the knobs that matter on a GPU (channels-last memory layout, mixed precision,
# `torch.compile`).
#
# **You will:** count the arithmetic intensity of a block's layers · time five roadmap steps at the size
# you would train them · compare FLOP ratios with speed ratios · write your own timing function and use it
# to test a prediction.

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
from convnext_lesson.training.benchmark import layer_intensity, measure_throughput
from convnext_lesson.teach.show import speed_table
from convnext_lesson.model.threads import cpu_threads
import matplotlib.pyplot as plt
cl.setup_notebook()

# %% [markdown]
# ## Two budgets: arithmetic and memory
#
# A layer takes at least as long as its arithmetic needs (multiply-accumulates / the chip's MAC rate) and
# at least as long as its data needs (bytes read and written / memory bandwidth). The ratio of the two,
# MACs per byte, is the layer's **arithmetic intensity**. A GPU does hundreds of MACs in the time it
# moves one byte, so a layer with an intensity of a few leaves the arithmetic units idle: its speed is set
# by memory, and cutting its FLOPs changes little.
#
# The layers of one ConvNeXt block in stage 1 (96 channels, 56x56, float32), counted:

# %% tags=["nbval-check-output"]
print(f"{'layer':10s} {'MMACs':>8s} {'MB moved':>9s} {'MACs/byte':>10s}")
for kind in ("dwconv", "layernorm", "pwconv", "gelu"):
    channels = 4 * 96 if kind == "gelu" else 96        # GELU acts on the 4x wider hidden tensor
    row = layer_intensity(kind, channels=channels, size=56, kernel=7)
    print(f"{row['layer']:10s} {row['MMACs']:8.1f} {row['MB moved']:9.2f} {row['MACs per byte']:10.1f}")

# %% [markdown]
# The 1x1 conv (`pwconv`) has about 8x the MACs of the depthwise 7x7 and only about 2.5x its memory
# traffic. LayerNorm and GELU do no MACs at all, so FLOP counts call them free, yet each reads and writes
# the whole tensor. A dense conv reuses each input value for every output channel; a depthwise conv uses
# it for one channel only, so its intensity cannot grow with the width.
#
# ## Measured: images per second against FLOPs
#
# Now the real thing. Timing only means something at a size you would actually run: on a GPU the full-size
# networks at 224 px, on a CPU the networks of the `cpu` profile (the ones notebooks 01-08 train on a laptop)
# at their image size and batch, in the memory layout the profile trains in (channels-last) and on a fixed
# number of threads, all the cores this process may use (the first line says how many), so that every run of
# this cell times the same thing. Each network is timed for inference and for a training step (forward,
# backward, update) on random images: warm-up steps first, then the timed repeats (the first line says how
# many); we report the median and show the range from the slowest to the fastest repeat. The networks take
# turns, one repeat each, so that a busy moment on the machine slows all of them alike rather than one alone.
# A wide range still means the machine was busy with something else: read such a run with care, or run the
# cell again.
#
# Five steps: ResNet-50 (0), the last step before the depthwise conv (3), the depthwise conv (4), the
# large kernel after the inverted bottleneck (9) and ConvNeXt-T (16). This is the slowest cell of the
# notebook: it trains nothing, but it times every network many times over.

# %%
setup = speed_table.speed_setup()
device_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
print(f"timing {setup.description} on {device_name}; warm-up {setup.warmup}, {setup.repeats} timed repeats")
measured = speed_table.measure_steps((0, 3, 4, 9, 16), setup)

# %% [markdown]
# What the timings say, computed from the numbers above (a ratio of medians, and whether the ranges of
# the repeats overlap: if they do, this run cannot tell the two apart). First the depthwise step against
# the step just before it, then ConvNeXt-T against ResNet-50:

# %%
for step, baseline in ((4, 3), (16, 0)):
    for mode in ("inference", "train"):
        print(speed_table.conclusion(measured, step, baseline, mode))
    print()
print(speed_table.noise_note(measured))

# %%
speed_table.plot(measured, setup, device_name)
plt.show()

# %% [markdown]
# If FLOPs were speed, the points would fall on the dashed curve: twice the FLOPs, half the images per
# second. Look at where they fall instead (a point above the curve is faster than its FLOPs predict), and compare the inference panel with the training panel: a training
# step also runs the backward pass of every LayerNorm and GELU, and keeps their activations in memory.
# On a CPU the gaps differ from a GPU's (a CPU does fewer MACs per byte moved), which is why the paper's
# own measurements are on GPUs:

# %%
speed_table.show_paper_throughput()

# %% [markdown]
# The paper compares ConvNeXt with Swin there, not the roadmap's steps with each other; we can only
# compare our own measurements with each other, never with its images/s (a different GPU, a different
# batch, a different software stack).
#
# ## The same FLOPs, another CPU
#
# FLOPs belong to the network; speed belongs to the network *and* to the kernels that compute it. The
# `cpu` profile's networks do the same arithmetic on every CPU, yet a laptop's CPU often has AVX2 and no
# AVX-512 (its vector units are half as wide), and the libraries PyTorch calls choose other kernels there.
# The course measured this on one machine: its own AVX-512 kernels, then the same CPU held to the AVX2
# kernels of oneDNN (convolutions), ATen and MKL (matrix products), an emulation of a laptop. For each
# training step it also asked oneDNN which kernel took longest. The table is printed from the committed
# measurement (`python -m convnext_lesson cpu-speed` measures your CPU the same way):

# %% tags=["nbval-check-output"]
from convnext_lesson.teach.show import cpu_kinds
cpu_kinds.show()

# %% [markdown]
# Read the `library` rows first (PyTorch's own convolutions). With AVX2 kernels every step loses speed,
# ConvNeXt's steps (15, 16) more than the ResNet step (1). For step 16 oneDNN names the slowest kernel: a
# `backward_weights` through `x64:gemm:jit`, the depthwise 7x7 convolution's **weight gradient**, which
# on AVX2 has no kernel of its own and goes through a generic matrix-product path. A layer with almost no
# FLOPs becomes the slowest of the step.
#
# The fix is an identity, not an approximation. The weight gradient of a depthwise k x k convolution
# (stride 1, padding p = k // 2), channel by channel, correlates the input with the output's gradient and
# sums over the batch:
#
# $$\frac{\partial L}{\partial W_{c,i,j}} = \sum_{n}\sum_{y,x} x_{n,c,\,y+i-p,\,x+j-p}\; g_{n,c,y,x}$$
#
# Read it as a convolution: for each (n, c), the input map is the image and its output gradient (H x W)
# is the kernel; the result is k x k. Folding the batch into the channels (N·C groups) makes it one
# depthwise *forward* convolution, for which oneDNN has fast kernels on every CPU, then a sum over n.
# Check it against autograd:

# %% tags=["nbval-check-output"]
import torch.nn.functional as F
torch.manual_seed(0)
n, c, size, k = 8, 6, 5, 7
x = torch.randn(n, c, size, size)
dwconv = torch.nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)
y = dwconv(x)
g = torch.randn_like(y)                      # some gradient arriving from the layers above
y.backward(g)                                # autograd's weight gradient: dwconv.weight.grad
folded = F.conv2d(x.reshape(1, n * c, size, size), g.reshape(n * c, 1, size, size),
                  padding=k // 2, groups=n * c)           # (1, n*c, k, k): one k x k map per (n, c)
by_hand = folded.reshape(n, c, k, k).sum(0).unsqueeze(1)  # summed over the batch: (c, 1, k, k)
print("shape", tuple(by_hand.shape), "| equals autograd's:", torch.allclose(by_hand, dwconv.weight.grad, atol=1e-5))

# %% [markdown]
# The course's networks use it (`folded` in the table), and go one step further (`course`): a 1x1
# convolution on a channels-last tensor is a matrix product of the pixels with the weights, so it runs
# as `F.linear` on the (N, H, W, C) view, as the official ConvNeXt code writes it, which spares oneDNN's
# layout conversions around each convolution. Both agree with PyTorch's convolutions to float32 rounding,
# not bit for bit. A CPU run chooses by itself (`cpu_kernels="auto"`: it times a training step both ways
# as it starts and records which it took in `run.record["cpu_kernels"]`); the README has the rule, and the
# three-seed check that the results stay inside the seed-to-seed noise.
#
# Two lessons for reading any speed table. The same FLOPs can take very different times, depending on
# which kernels a library has for a layer on a given CPU. And the fraction of the machine's
# matrix-product rate that a training step reaches (the `of matmul` column) stays well below 1 on every
# row: the memory-bound layers of this notebook's first section still set the pace.
#
# ## On a GPU: channels-last, mixed precision, torch.compile
#
# * **Channels-last** stores a tensor as (N, H, W, C), so the values of one pixel sit together. cuDNN's
#   fastest convolution kernels and LayerNorm over channels want this layout.
# * **Mixed precision** (bf16 on recent GPUs, fp16 on older ones) halves the bytes of every activation:
#   the memory-bound layers can get up to twice as fast, and matrix units run the convs.
# * **`torch.compile`** fuses chains of memory-bound operations (LayerNorm, GELU, layer scale, the residual
#   add) into fewer kernels that read and write the tensor once.
#
# On a GPU runtime this cell times ConvNeXt-T's training step with each:

# %%
if torch.cuda.is_available():
    from convnext_lesson.training.runtime import amp_dtype_for
    half = amp_dtype_for(torch.device("cuda")) or torch.float32
    model = cl.build_model(16)
    for channels_last, dtype, compile in ((False, torch.float32, False), (True, torch.float32, False),
                                          (True, half, False), (True, half, True)):
        speed = measure_throughput(model, mode="train", batch_size=setup.batch_size, image_size=setup.image_size,
                                   dtype=dtype, channels_last=channels_last, compile=compile,
                                   warmup=3, repeats=5, iters_per_repeat=2)
        print(f"ConvNeXt-T train, channels_last={channels_last!s:5s} {speed.dtype:9s} compiled={compile!s:5s} "
              f"{speed.images_per_s:8.1f} images/s (spread {speed.spread:.0%})")
else:
    print("No GPU here: on a GPU runtime this cell times channels-last, mixed precision and torch.compile.")

# %% [markdown]
# ## Our GPU reference measurements
#
# The course's reference study times every roadmap step on a data-centre GPU (training and inference,
# 224 px, batch 128, mixed precision, channels-last, eager and compiled). When it has been run, its table
# ships with the package and shows here. It has not been run yet: no GPU has been available to this
# project so far, so the cell below says so rather than show a number nobody measured.

# %%
if speed_table.reference_table_exists():
    cl.benchmark.show_reference_throughput()
else:
    print("No GPU reference table yet: no GPU has been available to this project so far. "
          "The only GPU numbers in this notebook are the paper's, above, labelled as such.")

# %% [markdown]
# ## Exercises
#
# **1. Count it.** Write `dwconv_intensity(channels, size, kernel)`: the MACs per byte of a depthwise kxk
# conv (stride 1, same padding) in float32, counting the input and the output once and the weights once.

# %%
def dwconv_intensity(channels, size, kernel):
    return None  # your code here

cl.exercises.check("09.dwconv_intensity", dwconv_intensity)

# %% [markdown]
# **2. Predict, then compute.** A bigger kernel does more MACs on the same tensor, so it raises the
# intensity. How big would the stage-1 depthwise kernel have to be to reach the intensity of the 1x1 conv
# in the table at the top? Guess first. Then write `smallest_kernel(target, channels=96, size=56)`: the
# smallest odd kernel whose depthwise conv reaches `target` MACs per byte (use your `dwconv_intensity`),
# and print `smallest_kernel(pwconv_intensity)`. Was your guess close? What does the answer say about
# making depthwise convs fast by making them bigger?

# %%
pwconv_intensity = layer_intensity("pwconv", channels=96, size=56)["MACs per byte"]

def smallest_kernel(target, channels=96, size=56):
    return None  # your code here

cl.exercises.check("09.smallest_kernel", smallest_kernel)

# %% [markdown]
# **3. Measure.** Write your own timer, `time_images_per_s(run_once, images, repeats=5, warmup=1)`: call
# `run_once()` `warmup` times without timing it, then time each of `repeats` calls with
# `time.perf_counter()`; return `{"rates": [...], "median": ..., "spread": ...}` with one rate (images /
# seconds) per timed call, their median, and the spread (max - min) / median. The check times a stand-in
# that sleeps known times, so it can tell whether your rates come from your timings.

# %%
import statistics, time

def time_images_per_s(run_once, images, repeats=5, warmup=1):
    return None  # your code here

cl.exercises.check("09.time_images_per_s", time_images_per_s)

# %% [markdown]
# Now use it. Step 4's network, timed for inference above in channels-last (N, H, W, C in memory), the
# layout the `cpu` profile trains in: is that faster, slower, or no different on your machine than
# PyTorch's default layout (N, C, H, W)? Write your prediction first, then run the cell (on the table's
# threads).

# %%
my_prediction = None   # "faster", "slower" or "no clear difference"

results = {}
for layout in (torch.contiguous_format, torch.channels_last):
    net = setup.build(4).eval().to(memory_format=layout)
    batch = torch.randn(setup.batch_size, 3, setup.image_size, setup.image_size).contiguous(memory_format=layout)

    def run_once():
        with torch.inference_mode():
            net(batch)

    with cpu_threads(setup.threads):
        results[str(layout).removeprefix("torch.")] = time_images_per_s(run_once, setup.batch_size)
if None in results.values():
    print("Nothing measured yet: write time_images_per_s above, then run this cell again.")
else:
    for layout, result in results.items():
        print(f"{layout:18s} {result['median']:7.1f} images/s (spread {result['spread']:.0%})")
    timings = {layout: speed_table.Timing(result["rates"]) for layout, result in results.items()}
    print(f"your prediction: {my_prediction}; measured: channels-last "
          f"{speed_table.speed_change(timings['channels_last'], timings['contiguous_format'])}")

# %% [markdown]
# What does your result mean? If the ranges overlapped, run the cell again: is the answer the same? Which
# layers of step 4 could care about the layout, and why might a GPU answer differently? Then change one
# thing and predict again: a batch of 8 instead of `setup.batch_size`, or step 16 instead of step 4.
#
# Stuck? `cl.exercises.solution("09.time_images_per_s")` prints a worked solution (likewise for the
# other two).
