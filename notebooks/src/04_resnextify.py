# %% [markdown]
# # 04 · ResNeXt-ify: depthwise convolution, then width 96 (steps 4-5)
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
# yourself · count steps 4 and 5 against the paper · see where the FLOPs go · train both steps · do three
# exercises.

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
from convnext_lesson.teach.layer_costs import layer_cost

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
# every channel, a weighted sum of that channel's values over a small window around the pixel. Self-
# attention in a Transformer does something alike: each output token is a weighted sum over positions,
# done for each channel separately. Both **mix information across space only**. Mixing across channels
# is left to other layers: the 1x1 convs here, the MLP there. With a depthwise conv, a ConvNet block
# splits the two jobs the same way a Transformer block does.

# %% [markdown]
# ## Step 4: the 3x3 conv of every bottleneck becomes depthwise
#
# In code, the whole step is one field of the network's configuration:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(4)
print(cl.build_model(4).stages[0].blocks[1].conv2)

# %% [markdown]
# The block before and after (a repeated block of stage 1; orange is the spatial conv):

# %%
from convnext_lesson.teach.layer_costs import draw_blocks, print_flops_by_kind, stage_flops

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
# Left, the paper's roadmap so far: top-1 against GFLOPs, steps 0 to 5 (the dip at step 4 is the
# depthwise conv, the jump to the right is the width). Right, your runs (and our GPU reference runs,
# where they exist): compare them with each other, step by step, not with the paper's ImageNet numbers.

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
# Stuck? `cl.exercises.solution("04.widened_gflops")` prints a worked solution.
#
# **Next:** notebook 05 turns the bottleneck inside out: the Transformer's MLP is wide in the middle
# (4x the channels), and so will our block be.
