# %% [markdown]
# # 01 · ResNet-50: where the roadmap starts (step 0)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/01_resnet50.ipynb)
#
# **Where we are.** The paper "A ConvNet for the 2020s" starts from a plain ResNet-50 and changes it,
# one design decision at a time, until it becomes ConvNeXt-T. Before we change anything we need the
# starting point exactly right: in this notebook we build ResNet-50's bottleneck block by hand, then the
# whole network, prove it is *the* ResNet-50 (torchvision's, weight for weight), count its cost, and
# train it with the original recipe (roadmap step 0).
#
# **You will:** write a bottleneck block · check shapes stage by stage · prove equality with torchvision ·
# count parameters and FLOPs in two conventions · train step 0 · do two exercises and one experiment
# (ResNet-50 without its shortcuts).
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **5 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07: 2 training runs, 125-152 s each. `smoke` (what
# the tests run) trains each network for seconds. `colab`: not timed on a T4 yet. The training cells print
# their progress, epoch by epoch. On another CPU, `python -m convnext_lesson cpu-speed` measures how fast it
# trains these networks.
# <!-- time: end -->

# %% [markdown]
# Run the next cell first. On Colab it installs the course package (Colab's own PyTorch stays as it is);
# everywhere it tells you which device and which *profile* (how big training runs are) this notebook uses.

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
import convnext_lesson as cl
cl.setup_notebook()

# %% [markdown]
# ## The bottleneck block
#
# A ResNet-50 block does three convolutions. The first 1x1 conv *squeezes* the channels (256 -> 64 in the
# first stage), the 3x3 conv does the spatial work on the narrow tensor, and the last 1x1 conv *expands*
# back (64 -> 256). Doing the expensive 3x3 on 64 channels instead of 256 makes it 16x cheaper: that is
# the "bottleneck". Each conv is followed by BatchNorm and a ReLU, and the block's input is added back
# (the residual connection) before the last ReLU. Here it is, written by hand:

# %%
class MyBottleneck(nn.Module):
    def __init__(self, channels: int, width: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))   # squeeze: 256 -> 64 channels
        y = torch.relu(self.bn2(self.conv2(y)))   # 3x3 on the narrow tensor
        y = self.bn3(self.conv3(y))               # expand: 64 -> 256 channels
        return torch.relu(x + y)                  # residual add, then ReLU

# %% [markdown]
# The convs need no bias: BatchNorm's shift right after would cancel it. A shape check: the block keeps
# the shape of its input, so blocks can be stacked.

# %% tags=["nbval-check-output"]
block = MyBottleneck(256, 64)
print(block(torch.randn(2, 256, 56, 56)).shape)

# %% [markdown]
# ## The same block from the course's builder
#
# The course builds every network of the roadmap from one configuration, a `NetConfig`. Every field is
# a design decision that some later step changes. Step 0 is ResNet-50:

# %% tags=["nbval-check-output"]
step0 = cl.get_step(0)
print(step0)
print(step0.config)

# %% [markdown]
# Our hand-written block and the builder's block should compute the same function. We copy the
# builder's weights into ours (the names differ slightly: `norm1` there, `bn1` here) and compare outputs.

# %% tags=["nbval-check-output"]
model = cl.build_model(0).eval()
theirs = model.stages[0].blocks[1]          # stage 1, block 2: 256 -> 64 -> 256, identity shortcut
mine = MyBottleneck(256, 64).eval()
mine.load_state_dict({k.replace("norm", "bn"): v for k, v in theirs.state_dict().items()})
x = torch.randn(2, 256, 56, 56)
with torch.no_grad():
    print("same output:", torch.allclose(mine(x), theirs(x), atol=1e-6))

# %% [markdown]
# ## The whole network
#
# ResNet-50 is a **stem** (7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool: 224 -> 56 pixels),
# four **stages** of 3, 4, 6 and 3 bottleneck blocks, and a **head** (global average pool + a linear
# classifier). The first block of stages 2-4 halves the resolution (stride 2 in its 3x3 conv) and
# doubles the channels, so its shortcut needs a 1x1 stride-2 conv to match shapes. Shapes, stage by stage:

# %% tags=["nbval-check-output"]
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    y = model.stem(x)
    print(f"{'stem':8s} {tuple(y.shape)}")
    for i, stage in enumerate(model.stages):
        y = stage(y)
        print(f"stage {i + 1:<2d} {tuple(y.shape)}   {len(stage.blocks)} blocks")
    print(f"{'head':8s} {tuple(model.head(y).shape)}")

# %% [markdown]
# ## Is it *the* ResNet-50?
#
# torchvision's `resnet50` is the reference (step 0 of the paper is "ResNet-50 (torchvision)"). If our
# network is the same, torchvision's weights load into it and both give the same logits. We use a
# randomly initialised torchvision model so that this runs offline (notebook 10 does it with the real
# ImageNet weights). One detail: a fresh BatchNorm has running statistics mean 0 / variance 1, which
# let random activations grow huge in eval mode, so we first let BatchNorm measure one batch.

# %% tags=["nbval-check-output"]
import torchvision

torch.manual_seed(0)
reference = torchvision.models.resnet50()
for m in reference.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.momentum = None                       # running statistics = plain average of what it saw
with torch.no_grad():
    reference.train()(torch.randn(8, 3, 224, 224))   # one batch to set the BatchNorm statistics
reference.eval()

ours = cl.load_torchvision_weights(cl.build_model(0), reference.state_dict()).eval()
images = torch.randn(4, 3, 224, 224)
with torch.no_grad():
    difference = (ours(images) - reference(images)).abs().max().item()
print(f"parameters: ours {cl.count_params(ours):,} | torchvision {cl.count_params(reference):,}")
print("same logits (max |difference| <= 1e-5):", difference <= 1e-5)

# %% [markdown]
# ## Counting: what does a forward pass cost?
#
# The paper measures cost in **GFLOPs**: billions of multiply-accumulates (MACs) of the conv and linear
# layers for one 224x224 image. BatchNorm is not counted, because at inference it folds into the conv
# before it. We count with [fvcore](https://github.com/facebookresearch/fvcore), which also reports its
# own default convention: it counts BatchNorm and pooling too, so it reads a little higher.

# %% tags=["nbval-check-output"]
report = cl.flop_report(model, image_size=224)
print(f"params                       {cl.count_params(model) / 1e6:7.2f} M")
print(f"GFLOPs, paper convention     {report.total('paper'):7.3f}    (paper, Table 10: {step0.paper_gflops})")
print(f"GFLOPs, fvcore's default     {report.total('fvcore'):7.3f}")
print("per operator (GFLOPs):", {op: round(v, 3) for op, v in report.by_operator.items()})

# %% [markdown]
# Where does the compute go? Per stage (paper convention):

# %% tags=["nbval-check-output"]
for part, gflops in report.by_part().items():
    print(f"{part:9s} {gflops:6.3f} GFLOPs  {'#' * round(gflops * 20)}")

# %% [markdown]
# A block of stage 2 costs about as much as a block of stage 1: halving the resolution quarters the
# pixels, doubling the channels quadruples the work per pixel. So a stage's cost follows its number of
# blocks, and stage 3, with 6 of the 16 blocks, does the most. The paper's first architecture change
# (notebook 03) moves even more blocks into stage 3; keep this picture in mind.

# %% [markdown]
# ## Train it: step 0 with the original recipe
#
# Step 0 is trained the way ResNet-50 was in 2015: SGD with momentum, a learning rate divided by 10 at
# fixed epochs, random-resized crops and flips, and nothing else. The paper's number is 76.13% on
# ImageNet after 90 epochs. We train on Imagenette, sized by your profile (a scaled-down network on a CPU,
# the full network on a GPU); the first line of the output says exactly what ran.

# %%
run0 = cl.train(0)

# %% [markdown]
# Training curves of this run (the learning rate drops by 10x at fixed epochs: the "steps" of the step
# schedule):

# %%
cl.lesson.plot_history(run0)

# %% [markdown]
# ## Where we are
#
# The roadmap so far, one row per step as in the paper's Figure 2: the paper's step 0 on the left; on the
# right the project's committed reference runs under the `cpu` profile (dots; with several seeds, their
# mean and a bar from the lowest to the highest) and your runs of this notebook (crosses). Our runs use a
# small network, a small dataset and few epochs, so read them against each other, step by step, never
# against the paper's ImageNet accuracy.

# %%
cl.lesson.roadmap_so_far(0, [run0])

# %% [markdown]
# ## Exercises
#
# **1.** Write `bottleneck_params(cin, width)`: the number of parameters of one bottleneck block with an
# identity shortcut (`cin == 4 * width`). Count the conv weights (no biases) and BatchNorm's two
# parameters per channel.

# %%
def bottleneck_params(cin, width):
    return None  # your code here

cl.exercises.check("01.bottleneck_params", bottleneck_params)

# %% [markdown]
# **2.** Write `stage_shapes(image_size)`: the `(C, H, W)` output of each of the four stages for a square
# input (try 224 first, then think about what the padded stride-2 layers do to an odd size like 100).

# %%
def stage_shapes(image_size):
    return None  # your code here

cl.exercises.check("01.stage_shapes", stage_shapes)

# %% [markdown]
# **3. Experiment: take the shortcuts away.** The shortcut is what makes ResNet a *residual* network:
# each block adds its branch to its input instead of replacing it. The ResNet paper (He et al., 2015,
# [arXiv 1512.03385](https://arxiv.org/abs/1512.03385), Section 4.1) trained "plain" networks, the same
# layers without shortcuts, and found that the deeper plain network (34 layers) reached a *higher training*
# error than the shallower one (18 layers): depth alone made the optimisation harder, not the fit worse.
# `shortcuts=False` builds step 0 that way: every block is its branch alone (the ReLU after the add stays),
# and the projection shortcuts of the first block of stages 2-4 go too.
#
# Before you run anything: which parameters does the plain network lose, and how many? Will its *train*
# loss end above or below step 0's? The next cell counts; the one after trains it (the size of your
# `run0`).

# %% tags=["nbval-check-output"]
plain = cl.build_model(0, shortcuts=False)
projections = sum(p.numel() for name, p in model.named_parameters() if ".shortcut." in name)
print("shortcut tensors left:", sum(".shortcut." in name for name, _ in plain.named_parameters()))
print(f"parameters lost: {(cl.count_params(model) - cl.count_params(plain)) / 1e6:.3f} M, "
      f"all of them the projection shortcuts' ({projections / 1e6:.3f} M)")

# %%
run_plain = cl.train(0, shortcuts=False)

# %% tags=["nbval-check-output"]
print("finished all planned epochs:", len(run_plain.history) == cl.plan_run(0, shortcuts=False).epochs)
print("no shortcuts:", run_plain.record["config"]["shortcuts"] is False,
      "| top-1 between 0 and 100:", 0 <= run_plain.top1 <= 100)

# %% [markdown]
# **What does it mean?** The ResNet paper's finding is about *training*: read the train-loss panel first,
# then the validation top-1. Under the `smoke` profile both runs are noise. Under `cpu` the network is
# scaled down (its depth is printed in the first line of the training output), so ask: is it deep
# enough for the shortcuts to matter? Would a deeper plain network fall further behind?

# %%
cl.lesson.plot_history(run0, run_plain, labels=["step 0", "step 0, shortcuts=False"])

# %% [markdown]
# **Our committed runs.** Once you have your own answer: the same experiment as the project's reference
# runs did it under the `cpu` profile (seed 0; the first line names the machine), beside the step's own
# run of that seed, with how far apart two seeds of one network fall, and both runs epoch by epoch.

# %%
cl.lesson.experiment_result(0)

# %% [markdown]
# Stuck? `cl.exercises.solution("01.stage_shapes")` prints a worked solution.
#
# **Next:** notebook 02 keeps this exact network and changes only how it is trained: the modern recipe
# is worth +2.7 points of ImageNet top-1 in the paper (76.13 -> 78.82) before any architecture change.
