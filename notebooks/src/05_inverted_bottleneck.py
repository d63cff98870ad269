# %% [markdown]
# # 05 · The inverted bottleneck (step 6)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/05_inverted_bottleneck.ipynb)
#
# **The paper:** Liu et al., *A ConvNet for the 2020s*, CVPR 2022 ([arXiv 2201.03545](https://arxiv.org/abs/2201.03545)), Section 2.4 (Inverted Bottleneck).
#
# **Where we are.** After notebook 04 (step 5) the network has Swin-T's stage ratio, a patchify stem,
# a depthwise 3x3 conv in every block and Swin-T's widths, 96 to 768. Its block is still ResNet's
# bottleneck: wide -> narrow -> wide, e.g. 384 -> 96 channels (1x1), the depthwise 3x3 on 96, then back
# to 384 (1x1).
#
# **What changes now.** Every Transformer block ends in an MLP whose hidden layer is **4x wider** than
# its input: narrow -> wide -> narrow (96 -> 384 -> 96 in Swin-T's first stage). MobileNetV2 made the same
# shape popular in ConvNets, the *inverted bottleneck*, with the depthwise conv in the wide middle. Step 6
# turns every block inside out: 1x1 conv d -> 4d, depthwise 3x3 on 4d, 1x1 conv 4d -> d, with d = 96, 192,
# 384, 768. The tensor that flows from block to block (through the shortcuts) is now the narrow one.
#
# **You will:** see the block before and after, in code and in shapes · find out why FLOPs go *down*
# although the depthwise conv now works on 4x the channels · train step 6 · write the inverted bottleneck
# yourself · try a smaller expansion ratio (an experiment).
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **18 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07, after the notebooks before it (their 11 runs
# were already in the runs folder: a run already there is loaded, not trained again): 2 training runs,
# 405-677 s each. `smoke` (what the tests run) trains each network for seconds. `colab`: not timed on a T4
# yet. The training cells print their progress, epoch by epoch. On another CPU,
# `python -m convnext_lesson cpu-speed` measures how fast it trains these networks.
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
# ## The change
#
# | block | channels, in -> 1x1 -> spatial -> 1x1 -> out (stage 1) |
# | --- | --- |
# | ResNet bottleneck (step 5) | 384 -> 96 -> depthwise 3x3 on 96 -> 384 |
# | Transformer MLP (Swin-T) | 96 -> 384 -> 96 (no spatial layer) |
# | inverted bottleneck (step 6) | 96 -> 384 -> depthwise 3x3 on 384 -> 96 |
#
# In the course's configuration it is one field, `block`:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(6)

# %% [markdown]
# In plain PyTorch only the channel counts of the three convs change; the norms, activations and the
# residual add keep their places (exercise 1 asks you to write the whole block). The three convs, before
# and after:

# %%
def bottleneck_convs(channels, width):      # step 5: wide -> narrow -> wide
    return [nn.Conv2d(channels, width, 1, bias=False),
            nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False),
            nn.Conv2d(width, 4 * width, 1, bias=False)]

def inverted_convs(dim, expansion=4):       # step 6: narrow -> wide -> narrow
    hidden = expansion * dim
    return [nn.Conv2d(dim, hidden, 1, bias=False),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.Conv2d(hidden, dim, 1, bias=False)]

# %% [markdown]
# The same convs as the course's blocks of stage 1? Compared weight shape by weight shape:

# %% tags=["nbval-check-output"]
for index, convs in ((5, bottleneck_convs(384, 96)), (6, inverted_convs(96))):
    block = cl.build_model(index).stages[0].blocks[1]
    theirs = [getattr(block, f"conv{i}") for i in (1, 2, 3)]
    print(f"step {index}: " + " · ".join(block_code.describe(conv) for conv in convs))
    print("  same weight shapes as the course's block:",
          [conv.weight.shape for conv in convs] == [conv.weight.shape for conv in theirs])

# %% [markdown]
# A shape check through step 6's blocks: the tensor between blocks is now the narrow one (96 channels in
# stage 1), widened to 384 inside. The first block of stage 2 strides in its depthwise conv and takes
# stage 1's 96 channels to 192, with a 1x1 stride-2 conv on its shortcut.

# %% tags=["nbval-check-output"]
model6 = cl.build_model(6)
print("step 6, a repeated block of stage 1:")
block_code.shape_walk(model6.stages[0].blocks[1], (96, 56, 56))
print("step 6, the first block of stage 2:")
block_code.shape_walk(model6.stages[1].blocks[0], (96, 56, 56))

# %% [markdown]
# A repeated block of stage 1, before and after (orange: the depthwise conv):

# %%
from convnext_lesson.teach.show.layer_costs import draw_blocks, print_block_costs, print_flops_by_kind, stage_flops

draw_blocks([5, 6]);

# %% [markdown]
# ## Count it

# %% tags=["nbval-check-output"]
cl.lesson.step_table([5, 6])

# %% [markdown]
# Fewer FLOPs and fewer parameters, and in the paper a slightly better network (80.50 -> 80.64). That
# is surprising at first: the depthwise conv now runs on 4x the channels. Layer by layer, a repeated
# block of stage 1 (56x56):

# %% tags=["nbval-check-output"]
for index in (5, 6):
    block = cl.build_model(index).stages[0].blocks[1]
    print_block_costs(block, (block.conv1.in_channels, 56, 56), f"step {index}, a repeated block of stage 1:")

# %% [markdown]
# The two 1x1 convs cost the same in both blocks (a 1x1 conv between 96 and 384 channels, either
# direction). The depthwise conv does cost 4x more, but it was tiny, so the repeated blocks barely
# change. The saving is elsewhere: by kind of layer, for the whole network,

# %% tags=["nbval-check-output"]
print_flops_by_kind([5, 6])

# %% [markdown]
# it is the **shortcut convs**. The first block of stages 2-4 halves the resolution and changes the
# channel count, so its shortcut is a 1x1 stride-2 conv from the previous stage's output to this stage's.
# In step 5 the blocks' outputs are the wide tensors (4 x 96 = 384 channels in stage 1, ..., 3072 in
# stage 4), in step 6 the narrow ones (96, ..., 768): each shortcut conv shrinks 16-fold. Stage 1's first
# block even loses its shortcut conv (the stem's 96 channels are already the block's 96). The classifier
# shrinks too: it now reads 768 features instead of 3072. (The 1x1 convs cost a little more: stage 1's
# first block, which used to squeeze 96 -> 96 channels and expand to 384, now expands 96 -> 384 and
# projects back.) The first block of stage 2, before and after:

# %%
draw_blocks([5, 6], stage=1, first_block=True);

# %% [markdown]
# Per stage, step 6 (blue) against step 5 (dashed): the stages whose first block has a strided shortcut
# (2, 3 and 4) get cheaper, stage 1 barely changes.

# %%
cl.diagrams.draw_stage_compute(stage_flops(6), compare=stage_flops(5), compare_label="step 5");

# %% [markdown]
# ## Train it
#
# Step 6, and step 5 beside it for comparison: notebook 04 trained step 5, so `cl.lesson.earlier_run` loads
# your run of it, or, if this runs folder does not hold one, shows the committed reference run (labelled as
# such; `train=True` trains yours here). Sized by your profile; under the `smoke` profile this only proves
# the code runs and the accuracy means nothing.

# %%
run5 = cl.lesson.earlier_run(5, "04")

# %%
run6 = cl.train(6)

# %%
cl.lesson.plot_history(run5, run6)

# %% [markdown]
# ## Where we are
#
# The paper's roadmap up to step 6 on the left; on the right the project's committed reference runs under
# the `cpu` profile (dots; with several seeds, their mean and a bar from the lowest to the highest) and
# your runs of this notebook (crosses). Compare our steps with each other, not with the paper's ImageNet
# numbers.

# %%
cl.lesson.roadmap_so_far(6, [run5, run6])

# %% [markdown]
# ## Exercises
#
# **1. Write the inverted bottleneck.** Complete `MyInvertedBottleneck(dim, expansion, kernel)`, the
# block of step 6 with an identity shortcut:
# 1x1 conv `dim -> expansion * dim`, BatchNorm, ReLU ·
# depthwise `kernel x kernel` conv on `expansion * dim` channels (padding `kernel // 2`), BatchNorm, ReLU ·
# 1x1 conv back to `dim`, BatchNorm · add the block's input · ReLU.
# No conv has a bias (BatchNorm follows each). The check builds yours, compares its parameter count with
# the course's step-6 block, copies that block's weights into yours (layer by layer, whatever you named
# them) and compares the outputs.

# %%
class MyInvertedBottleneck(nn.Module):
    def __init__(self, dim, expansion=4, kernel=3):
        super().__init__()
        # your code here: the layers

    def forward(self, x):
        return None  # your code here

cl.exercises.check("05.inverted_block", MyInvertedBottleneck)

# %% [markdown]
# **2. Count a block by hand.** Write `inverted_block_macs(dim, expansion, kernel, size)`: the
# multiply-accumulates of the convs of one repeated inverted bottleneck block (stride 1) on a
# `size` x `size` input. Use the layer-by-layer table above to check your formula, then compare it with
# the same formula for a ResNet bottleneck of the same stage: which is cheaper for `kernel = 7`?

# %%
def inverted_block_macs(dim, expansion, kernel, size):
    return None  # your code here

cl.exercises.check("05.inverted_block_macs", inverted_block_macs)

# %% [markdown]
# **3. Experiment: a smaller expansion.** The paper widens the middle of the block 4x, like the
# Transformer's MLP (MobileNetV2 used 6x). What if it were 2x or 3x? First predict: write
# `expansion_params(expansion)`, the number of parameters of step 6's network with that expansion ratio,
# from step 6's count (the cell prints it). Which layers have `expansion * d` channels on one side, and
# which do not depend on the ratio at all (the shortcuts, the stem, the head)? The parameters grow by the
# same amount for every +1 of the ratio. The check counts the network for 2, 3 and 6.

# %%
print(f"step 6: {cl.count_params(model6):,} parameters")

def expansion_params(expansion):
    return None  # your code here

cl.exercises.check("05.expansion_params", expansion_params)

# %% [markdown]
# Then measure: the counts for ratios 2, 3 and 4 (step 6),

# %% tags=["nbval-check-output"]
for expansion in (2, 3, 4):
    model = cl.build_model(6, expansion=expansion)
    print(f"expansion {expansion}: {cl.count_params(model):11,} params {cl.count_flops(model):7.3f} GFLOPs")

# %% [markdown]
# and train ratio 2 under your profile, to put next to `run6`:

# %%
run_e2 = cl.train(6, expansion=2)

# %% tags=["nbval-check-output"]
print("finished all planned epochs:", len(run_e2.history) == cl.plan_run(6, expansion=2).epochs)
print("expansion 2:", run_e2.record["config"]["expansion"] == 2,
      "| top-1 between 0 and 100:", 0 <= run_e2.top1 <= 100)

# %% [markdown]
# **What does it mean?** Ratio 2 about halves the GFLOPs: which layers does that come from? (From step
# 5 to step 6 the saving came from the shortcut convs; here?) Compare
# `print(run6.top1, run_e2.top1)`. Under the `smoke` profile the two are noise; with the `cpu` profile or a
# GPU, does the narrower block lose accuracy, and is that worth the GFLOPs it saves? (A fair comparison
# would also give the cheaper network its GFLOPs back, as step 5 did with width.)

# %% [markdown]
# **Our committed runs.** Once you have your own answer: the same experiment as the project's reference
# runs did it under the `cpu` profile (seed 0; the first line names the machine), beside the step's own
# run of that seed, with how far apart two seeds of one network fall, and both runs epoch by epoch.

# %%
cl.lesson.experiment_result(6)

# %% [markdown]
# Stuck? `cl.exercises.solution("05.inverted_block")` prints a worked solution.
#
# **Next:** notebook 06 moves the depthwise conv to the top of the block, where it works on the narrow
# tensor, and then makes its kernel large, like Swin's 7x7 attention windows.
