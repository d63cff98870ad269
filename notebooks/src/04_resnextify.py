# %% [markdown]
# # 04 · ResNeXt-ify: depthwise convolution, then width 96 (steps 4-5)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/04_resnextify.ipynb)
#
# **The paper:** Liu et al., *A ConvNet for the 2020s*, CVPR 2022 ([arXiv 2201.03545](https://arxiv.org/abs/2201.03545)), Section 2.3 (ResNeXt-ify).
#
# **Where we are.** Notebook 01 built ResNet-50 (step 0), notebook 02 trained it with the modern recipe
# (step 1), and notebook 03 changed its macro design: Swin-T's 1:1:3:1 stage ratio (step 2) and a 4x4
# stride-4 "patchify" stem (step 3). Inside the stages nothing has changed yet: every block is still
# ResNet's bottleneck, 1x1 conv (squeeze) -> 3x3 conv -> 1x1 conv (expand).
#
# **What changes now.** The paper borrows ResNeXt's idea: make the 3x3 conv *grouped*, in the extreme
# *depthwise* (one group per channel), which costs a fraction of the FLOPs, then spend the saving on more
# channels. Step 4 makes the 3x3 conv depthwise; step 5 widens the network from 64 to 96 base channels,
# Swin-T's width.
#
# **You will:** see what grouped and depthwise convolutions compute and cost · predict their cost
# yourself · write step 4's block and check it against the course's · count steps 4 and 5 against the
# paper · see where the FLOPs go · train both steps · do three exercises and one experiment (ResNeXt's 32
# groups).
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **17 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07, after the notebooks before it (their 12 runs
# were already in the runs folder: a run already there is loaded, not trained again): 2 training runs,
# 396-610 s each. `smoke` (what the tests run) trains each network for seconds. `colab`: not timed on a T4
# yet. The training cells print their progress, epoch by epoch. On another CPU,
# `python -m convnext_lesson cpu-speed` measures how fast it trains these networks. Under `cpu` the notebook's
# experiment is off by default, to keep it within a lab sitting: it is one more training run (the committed
# `cpu` run of it took 11 minutes on a CPU (2 cores, AMD EPYC, AVX512)); `train_experiment = True` in its cell
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
plt.rcParams["figure.dpi"] = 72   # modest pictures: the saved notebook stays small

# %% [markdown]
# ## Grouped and depthwise convolution
#
# In an ordinary 3x3 conv with C input and C output channels, **every output channel looks at every
# input channel**: its filter is a C x 3 x 3 block of weights, and the layer has C of them. A *grouped*
# conv with g groups splits the channels into g groups of C/g and convolves each group on its own: an
# output channel now sees only the C/g input channels of its group. ResNeXt uses 32 groups. The extreme
# is g = C, the **depthwise** conv: each channel is filtered on its own by a single 3x3 filter.
#
# **Exercise 1 (predict first).** Before you run the cell after it, write `conv3x3_cost(channels, size,
# depthwise)`: the number of weights (no bias) and of multiply-accumulates (MACs) of a 3x3 conv with
# `channels` input and output channels on a `size` x `size` image (stride 1, padding 1, so the output is
# `size` x `size` too), dense or depthwise. Return the pair `(params, macs)`. One MAC is one weight times
# one input value, added to an output.

# %%
def conv3x3_cost(channels, size, depthwise):
    return None  # your code here: return (params, macs)

cl.exercises.check("04.conv_cost", conv3x3_cost)

# %% [markdown]
# Now counted: a 3x3 conv on 64 channels at 56x56 (the resolution of stage 1) with 1, 2, 8 and 64
# groups. `layer_cost` counts the MACs of one layer with fvcore, the counter used for the whole course.
# Look at the weight's shape: (out channels, in channels per group, 3, 3).

# %% tags=["nbval-check-output"]
from convnext_lesson.teach.show.layer_costs import layer_cost

print(f"{'groups':>6}  {'weight shape':>16} {'params':>8} {'MMACs':>8}")
for groups in (1, 2, 8, 64):
    layer = nn.Conv2d(64, 64, 3, padding=1, groups=groups, bias=False)
    cost = layer_cost(layer, (64, 56, 56))
    print(f"{groups:6d}  {str(tuple(layer.weight.shape)):>16} {cost.params:8,} {cost.macs / 1e6:8.1f}")

# %% [markdown]
# Each doubling of the groups halves both numbers; the depthwise conv (64 groups) costs 1/64 of the
# dense one.
#
# **Each channel on its own.** Change only channel 0 of the input: which output channels move? In a
# dense conv, all of them; in a depthwise conv, only channel 0.

# %% tags=["nbval-check-output"]
torch.manual_seed(0)
dense = nn.Conv2d(8, 8, 3, padding=1, bias=False)
depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
x = torch.randn(1, 8, 16, 16)
x_changed = x.clone()
x_changed[:, 0] += 1.0                                   # touch input channel 0 only
with torch.no_grad():
    for name, layer in (("dense", dense), ("depthwise", depthwise)):
        moved = (layer(x_changed) - layer(x)).abs().amax(dim=(0, 2, 3)) > 0
        print(f"{name:9s} output channels that changed: {moved.nonzero().flatten().tolist()}")

# %% [markdown]
# **Why the paper likes it: the link to self-attention.** A depthwise conv computes, for every pixel and
# every channel, a weighted sum of that channel's values over a small window around the pixel.
# Self-attention also makes each output a **weighted sum over positions**, and that sum, too, mixes
# **space, not channels**: output channel c is a sum of the value vectors' channel c. Channels are mixed
# by other layers: the 1x1 convs here, attention's projections and the MLP there. With a depthwise conv, a
# ConvNet block splits the two jobs the way a Transformer block does.
#
# The weights of that sum are where the two differ:
#
# | | depthwise conv | self-attention |
# | --- | --- | --- |
# | weights of the sum over positions | learned parameters, fixed after training | computed from the input (query-key similarity, softmax), new for every image |
# | the same weights at every position? | yes (a convolution) | no: each output position has its own |
# | shared across channels? | no: one k x k filter per channel | yes: one set per head, shared by all the head's channels |
# | which positions | a k x k window | a window (Swin: 7 x 7 tokens) or the whole image (ViT) |

# %% [markdown]
# ## Step 4: the 3x3 conv of every bottleneck becomes depthwise
#
# In plain PyTorch, step 4 changes one line of the bottleneck that notebook 01 wrote by hand: the 3x3 conv
# gets `groups=width`, one group per channel. Everything else, `forward` included, stays as it was.

# %%
class DepthwiseBottleneck(nn.Module):
    def __init__(self, channels, width):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False)   # step 4: groups=width
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width)

    def forward(self, x):                          # as in notebook 01
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))    # the depthwise 3x3
        y = self.bn3(self.conv3(y))
        return torch.relu(x + y)

# %% [markdown]
# Is it the course's step-4 block? We copy the course block's weights into ours, layer by layer in order
# (`block_code.copy_weights`), after giving its norms random statistics (`randomize_norms`: fresh ones
# are ones and zeros, which would hide a norm in the wrong place), and compare the outputs:

# %% tags=["nbval-check-output"]
model4 = cl.build_model(4)
theirs = block_code.randomize_norms(model4.stages[0].blocks[1])   # stage 1, a repeated block: 256 -> 64 -> 256
mine = block_code.copy_weights(theirs, DepthwiseBottleneck(256, 64))
print("same output as the course's step-4 block:", block_code.same_output(mine, theirs, (256, 14, 14)))
print("weights of the 3x3 conv:", tuple(mine.conv2.weight.shape), "(out channels, in channels per group, 3, 3)")

# %% [markdown]
# A shape check, layer by layer: a repeated block keeps its input's shape; the first block of stage 2
# strides in its depthwise conv (56 -> 28 pixels) and doubles the channels, so its shortcut needs a 1x1
# stride-2 conv.

# %% tags=["nbval-check-output"]
print("step 4, a repeated block of stage 1:")
block_code.shape_walk(theirs, (256, 56, 56))
print("step 4, the first block of stage 2:")
block_code.shape_walk(model4.stages[1].blocks[0], (256, 56, 56))

# %% [markdown]
# In the course's configuration the whole step is one field:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(4)

# %% [markdown]
# The block before and after (a repeated block of stage 1; orange is the spatial conv):

# %%
from convnext_lesson.teach.show.layer_costs import draw_blocks, print_flops_by_kind, stage_flops

draw_blocks([3, 4]);

# %% [markdown]
# ### Count it

# %% tags=["nbval-check-output"]
cl.lesson.step_table([3, 4])

# %% [markdown]
# The FLOPs almost halve. Where did they go? Split by kind of layer (1x1 convs, the blocks' spatial kxk
# convs, the 1x1 convs on the shortcuts of each stage's first block, stem and head):

# %% tags=["nbval-check-output"]
print_flops_by_kind([3, 4])

# %% [markdown]
# The dense 3x3 convs did about half of step 3's work; made depthwise, they are almost free, and the
# 1x1 convs are left doing most of it. Per stage (`stage_flops`: the same count, summed by stage),
# step 4 (blue) against step 3 (dashed):

# %%
cl.diagrams.draw_stage_compute(stage_flops(4), compare=stage_flops(3), compare_label="step 3");

# %% [markdown]
# **And the accuracy?** In the paper it drops too, from 79.51 to 78.28 (ImageNet top-1, in the table
# above): the network lost capacity along with the FLOPs. The next step buys it back.

# %% [markdown]
# ## Step 5: widen to 96 channels
#
# ResNeXt's lesson is to spend what grouping saves on width. The paper widens the stages to Swin-T's
# channel counts: 64, 128, 256, 512 -> 96, 192, 384, 768 (the bottleneck's inner width; blocks output
# 4x that), and the stem now outputs 96 channels.

# %% tags=["nbval-check-output"]
cl.lesson.show_change(5)
print("step 5, a repeated block of stage 1:")
block_code.shape_walk(cl.build_model(5).stages[0].blocks[1], (384, 56, 56))

# %% [markdown]
# No new layer, only more channels: 384 -> 96 -> 384 instead of 256 -> 64 -> 256. Counted:

# %% tags=["nbval-check-output"]
cl.lesson.step_table([4, 5])

# %% [markdown]
# The FLOPs more than double, to more than step 3 had. A 1x1 conv costs (input channels x output
# channels) per pixel, so widening both by 1.5 costs 1.5^2 = 2.25 times as much; a depthwise conv costs
# (channels x 3 x 3) per pixel, only 1.5 times as much. Since the 1x1 convs now do most of the work:

# %% tags=["nbval-check-output"]
print_flops_by_kind([4, 5])

# %% [markdown]
# The whole step 5 network (block, stages, compute per stage against step 4's):

# %%
cl.diagrams.draw_step(5, by_part=stage_flops(5), compare=stage_flops(4));

# %% [markdown]
# In the paper the wider network reaches 80.50: better than step 3, at more FLOPs (the next steps bring
# the FLOPs back down).

# %% [markdown]
# ## Train steps 4 and 5
#
# Both trained the same way, sized by your profile (the first lines of each output say what ran). Under
# the `smoke` profile this only proves the code runs: the networks are tiny and the accuracy means nothing.

# %%
run4 = cl.train(4)

# %%
run5 = cl.train(5)

# %%
cl.lesson.plot_history(run4, run5)

# %% [markdown]
# ## Where we are
#
# Left, the paper's roadmap so far, one row per step: steps 0 to 5 (step 4's dip is the depthwise conv,
# step 5's rise the width). Right, the project's committed reference runs under the `cpu` profile (dots;
# with several seeds, their mean and a bar from the lowest to the highest) and your runs of this notebook
# (crosses): compare them with each other, step by step, not with the paper's ImageNet numbers.

# %%
cl.lesson.roadmap_so_far(5, [run4, run5])

# %% [markdown]
# ## Exercises
#
# Exercise 1 is at the top of the notebook (the cost of a dense and a depthwise 3x3 conv).
#
# **2. A depthwise conv by hand.** Write `depthwise_by_hand(x, weight)`: given an input `x` of shape
# (N, C, H, W) and a depthwise weight of shape (C, 1, k, k), compute the depthwise conv (stride 1,
# padding k // 2) by convolving **each channel on its own** with `torch.nn.functional.conv2d` (without
# its `groups` argument: that is what you are rebuilding) and stacking the results. The check compares
# with PyTorch's depthwise conv.

# %%
import torch.nn.functional as F

def depthwise_by_hand(x, weight):
    return None  # your code here: one F.conv2d per channel, then torch.cat

cl.exercises.check("04.depthwise_by_hand", depthwise_by_hand)

# %% [markdown]
# **3. Predict the cost of widening.** Write `widened_gflops(by_kind, factor)`: given the GFLOPs of each
# kind of layer of a network (a dict like the tables above, from
# `cl.layer_costs.flops_by_kind(4)`), predict the total GFLOPs when every width (stages and stem) is
# multiplied by `factor`. Think about how each kind of layer scales: the stem's conv has 3 input
# channels, the head's input is the last stage's output. The check counts step 4 widened by 1.5 (that is
# step 5) and by 2.

# %%
def widened_gflops(by_kind, factor):
    return None  # your code here

cl.exercises.check("04.widened_gflops", widened_gflops)

# %% [markdown]
# **4. Experiment: ResNeXt's 32 groups.** ResNeXt itself does not go all the way to depthwise: its 3x3
# convs have 32 groups. How much does the extreme save over that? First predict: write
# `grouped_params(groups)`, the number of parameters of step 5's network with every block's 3x3 conv in
# `groups` groups instead of depthwise. Start from step 5's count (the cell prints it) and its stages:
# 3x3 convs on 96, 192, 384 and 768 channels, in 3, 3, 9 and 3 blocks; nothing else changes. The check
# counts the network for 32, 8 and 1 groups (1: a dense conv).

# %%
print(f"step 5: {cl.count_params(cl.build_model(5)):,} parameters")

def grouped_params(groups):
    return None  # your code here

cl.exercises.check("04.grouped_params", grouped_params)

# %% [markdown]
# Then measure: the three variants of step 5 counted (`block_code.with_spatial_groups` swaps every
# block's 3x3 conv for one with that many groups),

# %% tags=["nbval-check-output"]
print(f"{'step 5 with 3x3 convs that are':32s} {'params':>12s} {'GFLOPs':>7s}")
for name, model in (("dense (1 group)", cl.build_model(5, depthwise=False)),
                    ("grouped (ResNeXt's 32 groups)", block_code.with_spatial_groups(cl.build_model(5), 32)),
                    ("depthwise (step 5)", cl.build_model(5))):
    print(f"{name:32s} {cl.count_params(model):12,} {cl.count_flops(model):7.3f}")

# %% [markdown]
# and train the dense extreme under your profile, to put next to `run5` (the course's config has no
# field for 32 groups, but `depthwise=False` gives the dense conv):

# %%
train_experiment = cl.lesson.experiment_by_default(5)
if train_experiment:
    run_dense = cl.train(5, depthwise=False)

# %% tags=["nbval-check-output"]
if train_experiment:
    print("finished all planned epochs:", len(run_dense.history) == cl.plan_run(5, depthwise=False).epochs)
    print("dense 3x3 convs:", run_dense.record["config"]["depthwise"] is False,
          "| top-1 between 0 and 100:", 0 <= run_dense.top1 <= 100)

# %% [markdown]
# **What does it mean?** Look at the three rows: how much of the saving comes from going from 1 group
# to 32, and how much from 32 to depthwise? Which would you widen, if the budget were step 4's GFLOPs?
# If you trained it, compare your runs: `print(run5.top1, run_dense.top1)`. Under the `smoke` profile
# both numbers are noise; with the `cpu` profile or a GPU, is what the dense network gains (if anything)
# worth its extra GFLOPs? The paper's answer is step 5: make the conv depthwise and spend the saving on width.

# %% [markdown]
# **Our committed runs.** Once you have your own answer: the same experiment as the project's reference
# runs did it under the `cpu` profile (seed 0; the first line names the machine), beside the step's own
# run of that seed, with how far apart two seeds of one network fall, and both runs epoch by epoch.

# %%
cl.lesson.experiment_result(5)

# %% [markdown]
# Stuck? `cl.exercises.solution("04.widened_gflops")` prints a worked solution.
#
# **Next:** notebook 05 turns the bottleneck inside out: the Transformer's MLP is wide in the middle
# (4x the channels), and so will our block be.
