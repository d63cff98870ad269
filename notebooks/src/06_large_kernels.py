# %% [markdown]
# # 06 · Large kernels (steps 7-11)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/06_large_kernels.ipynb)
#
# **The paper:** Liu et al., *A ConvNet for the 2020s*, CVPR 2022 ([arXiv 2201.03545](https://arxiv.org/abs/2201.03545)), Section 2.5 (Large Kernel Sizes).
#
# **Where we are.** After notebook 05 (step 6) every block is an inverted bottleneck: 1x1 conv d -> 4d,
# depthwise 3x3 conv on 4d, 1x1 conv 4d -> d. The network costs 4.64 GFLOPs and reaches 80.64 in the
# paper.
#
# **What changes now.** A Swin Transformer block mixes space inside 7x7 windows of tokens (a Vision
# Transformer, over the whole image); ConvNets have used 3x3 kernels ever since VGG showed that stacked
# 3x3 convs see as far as one large kernel. The paper asks whether ConvNets should look wider per layer
# too. Two steps: first **move the depthwise conv up** to the top of the block (step 7), where it is cheap
# enough to grow; then **grow its kernel** from 3 to 5, 7, 9 and 11 (steps 8-11). Kernel 7 is adopted;
# 5, 9 and 11 are branches the paper tried and did not keep.
#
# **You will:** write the moved-up block and check it against the course's · see why moving the conv up
# saves FLOPs · predict the cost of a 9x9 kernel before counting it · count the kernel sweep against the
# paper · see how far a unit looks, in theory and in practice (effective receptive fields) · train steps 7
# and 9 and one branch · try a 13x13 kernel (an experiment).
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **24 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07, after the notebooks before it (their 17 runs
# were already in the runs folder: a run already there is loaded, not trained again): 3 training runs,
# 437-520 s each. `smoke` (what the tests run) trains each network for seconds. `colab`: not timed on a T4
# yet. The training cells print their progress, epoch by epoch. On another CPU,
# `python -m convnext_lesson cpu-speed` measures how fast it trains these networks. Under `cpu` the notebook's
# experiment is off by default, to keep it within a lab sitting: it is one more training run (the committed
# `cpu` run of it took 9 minutes on a CPU (2 cores, AMD EPYC, AVX512)); `train_experiment = True` in its cell
# trains it.
# <!-- time: end -->

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
from torch import nn
import matplotlib.pyplot as plt
import convnext_lesson as cl
from convnext_lesson.teach.lab import block_code
cl.setup_notebook()
plt.rcParams["figure.dpi"] = 64   # modest pictures: the saved notebook stays under 400 KB

# %% [markdown]
# ## Step 7: move the depthwise conv up
#
# In a Transformer block the spatial mixer, self-attention, comes *before* the MLP, and the MLP does the
# wide 4x work. ConvNeXt copies that order: the depthwise conv (its spatial mixer) moves to the top of
# the block and works on the block's narrow input (d channels), followed by the two 1x1 convs
# d -> 4d -> d (its MLP). The expensive, wide part is left to the 1x1 convs, which hardware runs well.

# %% tags=["nbval-check-output"]
cl.lesson.show_change(7)

# %% [markdown]
# In plain PyTorch: step 6's three convs in a new order, with the depthwise conv on `dim` channels
# instead of `4 * dim`. Norms and activations stay where they were (after each conv, and after the add);
# `kernel` is the number steps 8-11 change.

# %%
class MovedUpBlock(nn.Module):
    def __init__(self, dim, kernel=3, expansion=4):
        super().__init__()
        hidden = expansion * dim
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim, bias=False)  # step 7: first
        self.bn1 = nn.BatchNorm2d(dim)
        self.expand, self.bn2 = nn.Conv2d(dim, hidden, 1, bias=False), nn.BatchNorm2d(hidden)
        self.project, self.bn3 = nn.Conv2d(hidden, dim, 1, bias=False), nn.BatchNorm2d(dim)

    def forward(self, x):
        y = torch.relu(self.bn1(self.dwconv(x)))   # mix space first, on d channels (attention's place)
        y = torch.relu(self.bn2(self.expand(y)))   # then the MLP: d -> 4d ...
        y = self.bn3(self.project(y))              # ... -> d
        return torch.relu(x + y)

# %% [markdown]
# The course's step-7 block, its weights copied into ours (with random norm statistics, so that a norm in
# the wrong place would show), and a shape check of a repeated block and of the first block of stage 2,
# which now strides in its depthwise conv, the block's first layer:

# %% tags=["nbval-check-output"]
model7 = cl.build_model(7)
theirs = block_code.randomize_norms(model7.stages[0].blocks[1])
mine = block_code.copy_weights(theirs, MovedUpBlock(96, kernel=3))
print("same output as the course's step-7 block:", block_code.same_output(mine, theirs, (96, 14, 14)))
print("step 7, a repeated block of stage 1:")
block_code.shape_walk(theirs, (96, 56, 56))
print("step 7, the first block of stage 2:")
block_code.shape_walk(model7.stages[1].blocks[0], (96, 56, 56))

# %%
from convnext_lesson.teach.show.layer_costs import draw_blocks, print_block_costs, print_flops_by_kind, stage_flops

draw_blocks([6, 7]);

# %% [markdown]
# ### Count it

# %% tags=["nbval-check-output"]
cl.lesson.step_table([6, 7])
print()
print_flops_by_kind([6, 7])

# %% [markdown]
# Two savings, one expected and one less so. The depthwise convs now work on d instead of 4d channels,
# so the "spatial convs" row shrinks about fourfold. But most of the saving is in the **1x1 convs**: in
# the first block of stages 2-4 it is the depthwise conv that strides by 2, and now that it comes first,
# the expanding 1x1 conv after it runs on a quarter of the pixels. The first block of stage 2, before and
# after:

# %%
draw_blocks([6, 7], stage=1, first_block=True);

# %% [markdown]
# Conv by conv, with the resolution each one works at:

# %% tags=["nbval-check-output"]
for index in (6, 7):
    block = cl.build_model(index).stages[1].blocks[0]
    print_block_costs(block, (96, 56, 56), f"step {index}, first block of stage 2 (input 96 ch, 56x56):")

# %% [markdown]
# Per stage, step 7 (blue) against step 6 (dashed): stages 2-4 lose the cost of their first block's
# expanding conv at full resolution.

# %%
cl.diagrams.draw_stage_compute(stage_flops(7), compare=stage_flops(6), compare_label="step 6");

# %% [markdown]
# In the paper this step costs accuracy for now (80.64 -> 79.92): it is what makes the large kernels
# affordable, and they are what pays it back.

# %% [markdown]
# ## Steps 8-11: the kernel sweep
#
# Each step changes one number, the depthwise kernel size:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(9)

# %% [markdown]
# In our block that is the argument `kernel`: `MovedUpBlock(96, kernel=7)` is step 9's block.

# %% tags=["nbval-check-output"]
theirs = block_code.randomize_norms(cl.build_model(9).stages[0].blocks[1])
mine = block_code.copy_weights(theirs, MovedUpBlock(96, kernel=7))
print("same output as the course's step-9 block:", block_code.same_output(mine, theirs, (96, 14, 14)))
print("depthwise weight:", tuple(mine.dwconv.weight.shape), "| output shape:", tuple(mine(torch.zeros(2, 96, 56, 56)).shape))

# %% [markdown]
# Steps 8 (kernel 5), 10 (kernel 9) and 11 (kernel 11) are branches: the paper tried them from the same
# network and went on from kernel 7 (step 9), so the configs of steps 10 and 11 are step 9's with another
# kernel.
#
# **Exercise 1 (predict first).** How much does a 9x9 kernel cost? You have step 7's FLOPs by kind of
# layer in the table above (kernel 3). Write `predict_gflops(kernel_size)`: the GFLOPs (paper convention,
# 224x224) of step 7 with its depthwise kernel changed to `kernel_size`, from those numbers only. The
# check compares your prediction for kernel 9 with the counted network (within 0.01 GFLOPs), then does
# the same for 5, 7 and 11.

# %%
def predict_gflops(kernel_size):
    return None  # your code here

cl.exercises.check("06.predict_kernel_gflops", predict_gflops)

# %% [markdown]
# Now counted, all five kernel sizes (the branches marked):

# %% tags=["nbval-check-output"]
cl.lesson.step_table([7, 8, 9, 10, 11])
print()
print_flops_by_kind([7, 11])

# %% [markdown]
# Only the "spatial convs" row moves: a depthwise conv costs channels x k x k per pixel, so it grows
# with the square of the kernel, but it started so small that even 11x11 adds little to the total.
# The parameters grow a little too, for the same reason. In the paper the accuracy rises from kernel 3 to 7 and then stops
# (80.57 for both 7 and 9, 80.47 for 11): the benefit **saturates at 7x7**, the size of Swin's windows,
# so the paper keeps kernel 7.

# %% [markdown]
# ## How far does a unit look? Receptive fields
#
# **In theory.** The *theoretical receptive field* of a unit is the input window it can see at all. One
# kxk conv sees k pixels across; a second one on top adds k - 1 more; a stride multiplies what every
# later layer adds (it works on a coarser grid). Walking the network's main path (stem, then each
# block's convs), for the unit at the end of each stage, in pixels of the input:

# %% tags=["nbval-check-output"]
from convnext_lesson.teach.show.receptive_field import (KERNEL_STEPS, draw_receptive_field_sweep, kernel_config,
                                             receptive_field_sweep, theoretical_receptive_field)

print(f"{'kernel':>6} {'step':>5}   theoretical receptive field at the end of stage 1, 2, 3, 4 (px)")
for k, index in KERNEL_STEPS.items():
    sides = [theoretical_receptive_field(kernel_config(k), stage) for stage in range(4)]
    print(f"{k:>4}x{k:<2d}{index:5d}   " + "  ".join(f"{side:5d}" for side in sides))

# %% [markdown]
# (Receptive fields depend on kernels, strides and depth, not on the widths, so this uses
# `kernel_config(k)`: step 7's network with kernel k and narrower stages.) Even with 3x3 kernels a unit
# at the end of stage 3 can in theory see more than the whole 224x224 image. So why would larger kernels
# help?
#
# **In practice.** The *effective* receptive field (Luo et al., 2016) measures where the input actually
# moves a unit: the gradient of the unit with respect to the input pixels. Below, the centre unit of
# stage 2, for each kernel size (random weights, averaged over a few networks and random 128x128 images;
# log colour scale, the blue square holds 90% of the gradient; the checkered pattern is an imprint of the
# strided layers):

# %%
fields = receptive_field_sweep()
cl.notebook.show_photos(draw_receptive_field_sweep(fields), dpi=64)   # a picture of gradients: JPEG, a tenth of a PNG's bytes

# %%
print(f"{'kernel':>6}  theoretical  effective: square holding 50% / 90% of the gradient (stage 2, px)")
for k, field in fields.items():
    print(f"{k:>4}x{k:<2d} {field.theoretical:8d}      {2 * field.radius(0.5) + 1:10d} / {2 * field.radius(0.9) + 1:d}")

# %% [markdown]
# The effective field is a small part of the theoretical one: the gradient is concentrated near the
# centre and fades towards the edges, because far pixels reach the unit along few paths through the
# stacked layers. A larger kernel widens it directly, layer by layer. That is the ConvNet's way to the
# larger windows of a Transformer.
#
# Explore it yourself: move the slider (kernel 3 to 11). For each kernel the explorer shows the
# effective receptive field next to kernel 3's, the theoretical one, and the full network's parameters
# and GFLOPs beside the paper's.

# %%
cl.kernel_explorer()

# %% [markdown]
# ## Train it
#
# Step 7 (kernel 3), step 9 (kernel 7, adopted) and one branch, step 11 (kernel 11), all sized by your
# profile. Under the `smoke` profile this only proves the code runs: the images are 32 px, smaller
# than some of the kernels' reach, and the accuracy means nothing.

# %%
run7 = cl.train(7)

# %%
run9 = cl.train(9)

# %%
run11 = cl.train(11)

# %%
cl.lesson.plot_history(run7, run9, run11)

# %% [markdown]
# ## Where we are
#
# The paper's roadmap up to step 11 (left): the branches (kernel 5, 9, 11) are hollow markers, off the
# line of adopted steps. On the right the project's committed reference runs under the `cpu` profile
# (dots; with several seeds, their mean and a bar from the lowest to the highest) and your runs of this
# notebook (crosses). Compare them with each other, not with the paper's ImageNet numbers.

# %%
cl.lesson.roadmap_so_far(11, [run7, run9, run11])

# %% [markdown]
# ## Exercises
#
# Exercise 1 is above (predict the GFLOPs of kernel 9).
#
# **2. The theoretical receptive field.** Write `receptive_field(layers)`: the side, in input pixels, of
# the theoretical receptive field of one unit after a stack of convs, given as a list of
# `(kernel, stride)` pairs from the input up. For example, two 3x3 convs with stride 1,
# `[(3, 1), (3, 1)]`, see 5 pixels. The check measures the answer on real stacks of convs (which input
# pixels get a gradient from one output unit).

# %%
def receptive_field(layers):
    return None  # your code here

cl.exercises.check("06.receptive_field", receptive_field)

# %% [markdown]
# Then try it on the start of step 9's network, the 4x4 stride-4 stem and stage 1's three blocks, each
# with one 7x7 depthwise conv (1x1 convs add nothing): `receptive_field([(4, 4)] + [(7, 1)] * 3)` should
# equal `theoretical_receptive_field(kernel_config(7), stage=0)`, the stage-1 column of the table above.
#
# **3. Experiment: a 13x13 kernel.** The paper stopped at 11. Try 13 on step 9's network, and first think
# about padding: with stride 1 and padding k // 2, a k x k depthwise kernel on a small feature map is
# mostly over the zeros of the padding. Write `useful_taps(kernel, size)`: how many of the k x k weights
# ever multiply a real pixel (not padding) of a `size` x `size` map, at some output position. The check
# measures it (which weights get a gradient) for several kernels and map sizes.

# %%
def useful_taps(kernel, size):
    return None  # your code here

cl.exercises.check("06.useful_taps", useful_taps)

# %% [markdown]
# Then measure it where it matters: the feature maps of the four stages (the image side / 4, / 8, / 16,
# / 32) at the paper's 224 px and at the image sizes of the course's profiles (colab 128, cpu 64, smoke
# 32), for a 13x13 kernel:

# %% tags=["nbval-check-output"]
def measured_taps(kernel, size):
    conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False)
    conv(torch.ones(1, 1, size, size)).sum().backward()   # a weight gets a gradient iff it touches a pixel
    return int((conv.weight.grad != 0).sum())

print("13x13 kernel: weights that touch a pixel, of 169, per stage (map side in brackets)")
for image in (224, 128, 64, 32):
    sides = [image // 4 // 2 ** stage for stage in range(4)]
    print(f"{image:4d} px: " + "  ".join(f"{measured_taps(13, side):4d} ({side}x{side})" for side in sides))

# %% [markdown]
# and train kernel 13 under your profile, to put next to `run9` (kernel 7) and `run11`:

# %%
train_experiment = cl.lesson.experiment_by_default(9)
if train_experiment:
    run13 = cl.train(9, kernel_size=13)

# %% tags=["nbval-check-output"]
if train_experiment:
    print("finished all planned epochs:", len(run13.history) == cl.plan_run(9, kernel_size=13).epochs)
    print("kernel 13:", run13.record["config"]["kernel_size"] == 13, "| top-1 between 0 and 100:", 0 <= run13.top1 <= 100)
print(f"full-size network at 224 px: kernel 7 {cl.count_step(9).gflops_paper_convention:.3f} GFLOPs, "
      f"kernel 13 {cl.count_flops(cl.build_model(9, kernel_size=13)):.3f} GFLOPs")

# %% [markdown]
# **What does it mean?** At 224 px, which stages can use all of a 13x13 kernel? At your profile's image size,
# how many of its weights in stages 3 and 4 only ever see padding (they still cost FLOPs in the count)? If you
# trained it, compare `print(run9.top1, run11.top1, run13.top1)`: under the `smoke` profile they are noise;
# with the `cpu` profile or a GPU, would you expect a kernel sweep on 64 px images to say the same as the
# paper's on 224 px ImageNet, where the gain stopped at 7x7 (Table 10)?

# %% [markdown]
# **Our committed runs.** Once you have your own answer: the same experiment as the project's reference
# runs did it under the `cpu` profile (seed 0; the first line names the machine), beside the step's own
# run of that seed, with how far apart two seeds of one network fall, and both runs epoch by epoch.

# %%
cl.lesson.experiment_result(9)

# %% [markdown]
# Stuck? `cl.exercises.solution("06.receptive_field")` prints a worked solution.
#
# **Next:** notebook 07 turns to the micro design, the small things inside the block: GELU instead of
# ReLU, fewer activations and norms, and LayerNorm instead of BatchNorm.
