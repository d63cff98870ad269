# %% [markdown]
# # 07 · Micro design: GELU, fewer activations, fewer norms, LayerNorm (steps 12-15)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/07_micro_design.ipynb)
#
# **The paper:** Liu et al., *A ConvNet for the 2020s*, CVPR 2022 ([arXiv 2201.03545](https://arxiv.org/abs/2201.03545)), Section 2.6 (Micro Design).
#
# **Where we are.** Notebooks 03-06 changed the network's *shape*: the stage ratio, the patchify stem,
# depthwise convs, width 96, the inverted bottleneck and a 7x7 depthwise conv moved to the top of the
# block. We stand at **step 9** (kernel 7x7): 80.57% ImageNet top-1 in the paper, at 4.15 GFLOPs.
#
# This notebook changes what sits *between* the convs: which activation, how many activations, how many
# normalisation layers, and which kind. The paper calls this **micro design**. Each choice copies what a
# Transformer block does, and none of them changes the FLOPs the paper counts, yet together they are worth
# almost a point of top-1.
#
# **You will:** compare ReLU and GELU · strip the block down to one activation and one norm, writing each
# step's `forward` by hand and checking it against the course's block · see on a tensor what BatchNorm and
# LayerNorm normalise over · find out why fvcore's count moves when the paper's does not · train steps 12-15
# · do three exercises and one experiment (LayerNorm with ResNet's activations).
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **32 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), a machine shared with other work, torch 2.14.1+cu130, 2026-12-07, after the
# notebooks before it (their 19 runs were already in the runs folder: a run already there is loaded, not
# trained again): 4 training runs, 434-524 s each. `smoke` (what the tests run) trains each network for
# seconds. `colab`: not timed on a T4 yet. The training cells print their progress, epoch by epoch. On another
# CPU, `python -m convnext_lesson cpu-speed` measures how fast it trains these networks. Under `cpu` the
# notebook's experiment is off by default, to keep it within a lab sitting: it is one more training run (the
# committed `cpu` run of it took 10 minutes on a CPU (2 cores, AMD EPYC, AVX512)); `train_experiment = True`
# in its cell trains it.
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
import torch.nn.functional as F
from torch import nn
import convnext_lesson as cl
from convnext_lesson.teach.lab import block_code
cl.setup_notebook()

# %% [markdown]
# The four steps of this notebook, as the roadmap stores them (each is the step before plus one change):

# %% tags=["nbval-check-output"]
for index in (12, 13, 14, 15):
    step = cl.get_step(index)
    print(f"step {index} · {step.label:18s} {step.change:56s} {step.overrides}")

# %% [markdown]
# A small helper to draw the block of two steps side by side (a repeated block of stage 1: 96 channels at
# 56x56, identity shortcut):

# %%
import matplotlib.pyplot as plt
plt.rcParams["figure.dpi"] = 64   # modest pictures: the saved notebook stays under 400 KB

def compare_blocks(*steps, stage=0, first_block=False):
    fig, axes = plt.subplots(1, len(steps), figsize=(4.2 * len(steps), 6.4))
    for ax, index in zip(axes, steps):
        cl.diagrams.draw_block(index, stage=stage, first_block=first_block, ax=ax)
        ax.set_title(f"step {index}: {cl.get_step(index).label}", fontsize=10, fontweight="bold")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Step 12: ReLU -> GELU
#
# ResNet uses ReLU, `max(0, x)`. Transformers (BERT, GPT, ViT, Swin) use **GELU**, the Gaussian Error
# Linear Unit: `GELU(x) = x · Φ(x)`, where Φ is the standard normal distribution's cumulative distribution
# function. It is a smooth ReLU: close to `x` for large x, close to 0 for very negative x, and slightly
# negative just below 0, with a gradient everywhere. The paper swaps every ReLU for a GELU: accuracy is
# unchanged (80.57 -> 80.62, within noise), but the block is now ready for the next steps, which copy the
# Transformer's layout.

# %% tags=["nbval-check-output"]
x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
phi = 0.5 * (1 + torch.erf(x / 2 ** 0.5))           # standard normal CDF
# three decimals: float32 GELU differs between CPUs in the 7th digit, and GELU(-3) = -0.00405 sits right
# at a 4th-decimal rounding edge; every value below is far from a 3rd-decimal edge
print("x          ", [f"{v:6.3f}" for v in x.tolist()])
print("ReLU(x)    ", [f"{v:6.3f}" for v in torch.relu(x).tolist()])
print("GELU(x)    ", [f"{v:6.3f}" for v in nn.functional.gelu(x).tolist()])
print("GELU(x) == x * Phi(x):", torch.allclose(nn.functional.gelu(x), x * phi, atol=1e-6))
grid = torch.linspace(-3, 0, 3001)                  # steps of 0.001
lowest = nn.functional.gelu(grid).argmin()
print(f"GELU's minimum: {nn.functional.gelu(grid)[lowest]:.3f} at x = {grid[lowest]:.2f}")

# %%
xs = torch.linspace(-4, 4, 401, requires_grad=True)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
for name, fn in (("ReLU", torch.relu), ("GELU", nn.functional.gelu)):
    ys = fn(xs)
    grad, = torch.autograd.grad(ys.sum(), xs)
    left.plot(xs.detach(), ys.detach(), label=name)
    right.plot(xs.detach(), grad, label=name)
left.set(title="the function", xlabel="x")
right.set(title="its derivative", xlabel="x")
for ax in (left, right):
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# GELU dips slightly below zero for negative inputs (its minimum is printed above), and its derivative is
# smooth, where ReLU's jumps from 0 to 1. In code, step 12 is one field of the configuration:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(12)

# %% [markdown]
# In code: the block's `forward` written out by hand, using the course block's own layers (`b.conv1`, the
# depthwise 7x7; `b.conv2` and `b.conv3`, the two 1x1 convs; `b.norm1`-`b.norm3`, their BatchNorms). Step 9's
# forward had `torch.relu` where this one has `F.gelu`:

# %%
def forward_step12(b, x):
    y = F.gelu(b.norm1(b.conv1(x)))    # depthwise 7x7, BN, GELU
    y = F.gelu(b.norm2(b.conv2(y)))    # 1x1 d -> 4d, BN, GELU
    y = b.norm3(b.conv3(y))            # 1x1 4d -> d, BN
    return F.gelu(x + y)               # add, GELU

# %% [markdown]
# Checked against the course's block (a repeated block of stage 1, its norms given random statistics so
# that a missing or misplaced layer would show):

# %% tags=["nbval-check-output"]
def course_block(step):
    return block_code.randomize_norms(cl.build_model(step).stages[0].blocks[1])

block = course_block(12)
print("forward_step12 == the course's step-12 block:",
      block_code.same_output(lambda x: forward_step12(block, x), block, (96, 14, 14)))

# %%
compare_blocks(9, 12)

# %% [markdown]
# ## Step 13: fewer activations
#
# Count the activations in a Transformer block: the attention part has none (apart from the softmax), and
# the MLP has exactly one, between its two linear layers: `Linear(C -> 4C) -> GELU -> Linear(4C -> C)`. Our
# block since step 7 has that same MLP, as two 1x1 convs, plus ResNet's habit of an activation after
# (almost) every conv and after the residual add. Step 13 removes all but the one between the two 1x1
# convs. This is the biggest single gain of the micro design in the paper: 80.62 -> 81.27, which matches
# Swin-T (81.3).

# %% tags=["nbval-check-output"]
cl.lesson.show_change(13)

# %% [markdown]
# In code, two activations go: the one after the depthwise conv and the one after the add.

# %%
def forward_step13(b, x):
    y = b.norm1(b.conv1(x))            # no activation after the depthwise conv
    y = F.gelu(b.norm2(b.conv2(y)))    # the one activation left, between the two 1x1 convs
    y = b.norm3(b.conv3(y))
    return x + y                       # no activation after the add

# %% tags=["nbval-check-output"]
block = course_block(13)
print("forward_step13 == the course's step-13 block:",
      block_code.same_output(lambda x: forward_step13(block, x), block, (96, 14, 14)))
print("forward_step12 == the course's step-13 block:",
      block_code.same_output(lambda x: forward_step12(block, x), block, (96, 14, 14)))

# %%
compare_blocks(12, 13)

# %% [markdown]
# ## Step 14: fewer norms
#
# A Transformer block also has few normalisation layers (one before the attention, one before the MLP);
# ours has a BatchNorm after each of its three convs. Step 14 keeps only the one right after the depthwise
# conv. The 1x1 convs that lose their BatchNorm get a bias instead (a conv followed by BatchNorm needs
# none: BatchNorm's shift replaces it). Paper: 81.27 -> 81.41.

# %% tags=["nbval-check-output"]
cl.lesson.show_change(14)

# %% [markdown]
# In code, two norms go, and the two 1x1 convs now have a bias (`b.conv2.bias`, `b.conv3.bias`):

# %%
def forward_step14(b, x):
    y = b.norm1(b.conv1(x))            # the one norm left, after the depthwise conv
    y = F.gelu(b.conv2(y))             # no norm after the 1x1 convs
    return x + b.conv3(y)

# %% tags=["nbval-check-output"]
block = course_block(14)
print("forward_step14 == the course's step-14 block:",
      block_code.same_output(lambda x: forward_step14(block, x), block, (96, 14, 14)))
print("the 1x1 convs have biases:", block.conv2.bias is not None and block.conv3.bias is not None,
      "| the depthwise conv has one:", block.conv1.bias is not None)

# %%
compare_blocks(13, 14)

# %% [markdown]
# Until step 16 a stage's *first* block still downsamples itself, and its 1x1 stride-2 shortcut conv keeps
# its own norm (it has to match the scale of the main path). Stage 2's first block at step 14, layer by
# layer (the stride-2 depthwise conv halves the pixels, the shortcut conv matches them):

# %% tags=["nbval-check-output"]
block_code.shape_walk(cl.build_model(14).stages[1].blocks[0], (96, 56, 56))

# %% [markdown]
# ## Step 15: BatchNorm -> LayerNorm
#
# The norm that is left becomes a **LayerNorm**, the Transformer's norm. Both subtract a mean, divide by a
# standard deviation and then apply a learned per-channel scale and shift. What differs is *which values
# share a mean and a variance*:
#
# - **BatchNorm** (BN): one mean per *channel*, over every image of the batch and every pixel (N x H x W
#   values). In training it uses the batch's statistics (so each image's output depends on the other
#   images of its batch, and small batches give noisy statistics), at test time running averages.
# - **LayerNorm** (LN) as ConvNeXt uses it: one mean per *pixel of each image*, over that pixel's C
#   channels. Nothing depends on the rest of the batch; training and test compute the same thing.
#
# Written out, for an input $x_{n,c,h,w}$ (image $n$, channel $c$, pixel $h,w$), both normalise and then
# scale and shift per channel, $y = \gamma_c \hat x + \beta_c$; only the averages differ:
#
# $$\text{BN:}\quad \hat x_{n,c,h,w} = \frac{x_{n,c,h,w} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad
#   \mu_c = \frac{1}{NHW} \sum_{n,h,w} x_{n,c,h,w}, \quad \sigma_c^2 = \frac{1}{NHW} \sum_{n,h,w} (x_{n,c,h,w} - \mu_c)^2$$
#
# $$\text{LN:}\quad \hat x_{n,c,h,w} = \frac{x_{n,c,h,w} - \mu_{n,h,w}}{\sqrt{\sigma_{n,h,w}^2 + \epsilon}}, \qquad
#   \mu_{n,h,w} = \frac{1}{C} \sum_{c} x_{n,c,h,w}, \quad \sigma_{n,h,w}^2 = \frac{1}{C} \sum_{c} (x_{n,c,h,w} - \mu_{n,h,w})^2$$
#
# The cell below computes both by hand and checks them against `nn.BatchNorm2d` and the course's
# `LayerNorm2d` (with $\gamma = 1$, $\beta = 0$, as they start).
#
# On a tiny tensor: 2 images, 4 channels, 3x3 pixels.

# %% tags=["nbval-check-output"]
from convnext_lesson.model import LayerNorm2d

torch.manual_seed(0)
x = torch.randn(2, 4, 3, 3) * 3 + 1                   # (N, C, H, W)
bn_mean = x.mean(dim=(0, 2, 3), keepdim=True)          # BN: over N, H, W -> one value per channel
bn_var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
ln_mean = x.mean(dim=1, keepdim=True)                  # LN: over C -> one value per image and pixel
ln_var = x.var(dim=1, keepdim=True, unbiased=False)
print(f"BatchNorm statistics: shape {tuple(bn_mean.shape)}, each over {x.numel() // x.shape[1]} values")
print(f"LayerNorm statistics: shape {tuple(ln_mean.shape)}, each over {x.shape[1]} values")

bn = nn.BatchNorm2d(4).train()                         # training mode: uses this batch's statistics
ln = LayerNorm2d(4, eps=1e-6)
with torch.no_grad():
    print("BatchNorm2d == (x - mean over N,H,W) / std:",
          torch.allclose(bn(x), (x - bn_mean) / torch.sqrt(bn_var + bn.eps), atol=1e-5))
    print("LayerNorm2d == (x - mean over C) / std:    ",
          torch.allclose(ln(x), (x - ln_mean) / torch.sqrt(ln_var + 1e-6), atol=1e-5))

# %% [markdown]
# The same picture with the tensor flattened: one row per channel, one column per (image, pixel). Each
# colour marks one group of values that share a mean and a variance.

# %%
import numpy as np

n, c, h, w = x.shape
fig, axes = plt.subplots(1, 2, figsize=(11, 2.6))
for ax, (title, groups) in zip(axes, (
        ("BatchNorm: one group per channel (a row)", np.repeat(np.arange(c)[:, None], n * h * w, axis=1)),
        ("LayerNorm: one group per image and pixel (a column)", np.repeat(np.arange(n * h * w)[None, :], c, axis=0)))):
    ax.imshow(groups % 10, cmap="tab10", vmin=0, vmax=9, aspect="auto")
    ax.set_xticks([h * w / 2 - 0.5, n * h * w - h * w / 2 - 0.5], ["image 1 (9 pixels)", "image 2 (9 pixels)"])
    ax.axvline(h * w - 0.5, color="white", lw=3)
    ax.set_yticks(range(c), [f"channel {i + 1}" for i in range(c)])
    ax.set_title(title, fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# PyTorch's `nn.LayerNorm(C)` normalises over the *last* dimension, so it expects channels last,
# (N, H, W, C); our tensors are (N, C, H, W). The official ConvNeXt code solves this either by permuting
# to channels-last (its blocks) or with its own "channels_first" LayerNorm (stem and downsampling). Ours,
# `LayerNorm2d`, permutes, normalises, and permutes back. A numeric check that it *is* torch's LayerNorm on
# the channels-last tensor, with random scale and shift so that nothing can hide behind ones and zeros; and
# a warning: `GroupNorm(1, C)` is often mistaken for a LayerNorm, but it normalises over C, H and W together.

# %% tags=["nbval-check-output"]
torch.manual_seed(1)
ours = LayerNorm2d(4, eps=1e-6)
torchs = nn.LayerNorm(4, eps=1e-6)
group = nn.GroupNorm(1, 4, eps=1e-6)
with torch.no_grad():
    for layer in (ours, torchs, group):
        layer.weight.copy_(torch.linspace(0.5, 2.0, 4))
        layer.bias.copy_(torch.linspace(-1.0, 1.0, 4))
    channels_last = torchs(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    print("LayerNorm2d(x) == nn.LayerNorm on channels-last x:", torch.allclose(ours(x), channels_last, atol=1e-6))
    print("LayerNorm2d(x) == GroupNorm(1, C)(x):             ", torch.allclose(ours(x), group(x), atol=1e-3))

# %% [markdown]
# Step 15 in code, and what it does to the block: the norm after the depthwise conv (and the one on the
# shortcut of a stage's first block) becomes a LayerNorm. The convs they follow get a bias, as the 1x1 convs
# did at step 14: LayerNorm's shift only cancels a constant shared by all channels, not a per-channel bias.
# Paper: 81.41 -> 81.47.

# %% tags=["nbval-check-output"]
cl.lesson.show_change(15)
step14, step15 = cl.build_model(14), cl.build_model(15)
biases = sum(m.bias.numel() for m in step15.modules() if isinstance(m, nn.Conv2d) and m.bias is not None) \
    - sum(m.bias.numel() for m in step14.modules() if isinstance(m, nn.Conv2d) and m.bias is not None)
print(f"parameters: step 14 {cl.count_params(step14):,} -> step 15 {cl.count_params(step15):,} "
      f"({cl.count_params(step15) - cl.count_params(step14):+,}); new conv biases: {biases:,}")

# %% [markdown]
# The forward of step 15, its LayerNorm written out (channels last, `F.layer_norm` over the last
# dimension, channels first again), checked against the course's block; then a shape check of a repeated
# block and of stage 2's first block, which still downsamples itself (with a LayerNorm on its shortcut):

# %%
def forward_step15(b, x):
    y = b.conv1(x).permute(0, 2, 3, 1)             # depthwise 7x7 (with a bias), then channels last
    y = F.layer_norm(y, y.shape[-1:], b.norm1.weight, b.norm1.bias, eps=1e-6).permute(0, 3, 1, 2)
    y = F.gelu(b.conv2(y))
    return x + b.conv3(y)

# %% tags=["nbval-check-output"]
block = course_block(15)
print("forward_step15 == the course's step-15 block:",
      block_code.same_output(lambda x: forward_step15(block, x), block, (96, 14, 14)))
print("step 15, a repeated block of stage 1:")
block_code.shape_walk(block, (96, 56, 56))
print("step 15, the first block of stage 2:")
block_code.shape_walk(step15.stages[1].blocks[0], (96, 56, 56))

# %%
compare_blocks(14, 15)

# %% [markdown]
# ## Count it
#
# Steps 12-15 next to the paper:

# %% tags=["nbval-check-output"]
cl.lesson.step_table([12, 13, 14, 15])

# %% [markdown]
# **The paper's convention does not move** (4.146 at every step): it counts the multiply-accumulates of
# conv and linear layers only, and activations and norms are neither. The new conv biases are additions,
# not multiplications. (Table 10's 4.46 at step 15 is a typo, as the footnote says.)
#
# **fvcore's default count does move**, and we can predict it exactly. fvcore ignores activations (so
# steps 12 and 13 read the same as step 9) but counts each norm per element of its input: BatchNorm in
# eval mode 2 FLOPs per element (a scale and a shift: it could fold into the conv before it), LayerNorm 5
# (mean, variance, normalise, scale, shift: "a rough estimate", says fvcore's source), and the global
# average pool 1 per input element. Counting the elements each norm sees in one forward pass at 224 px
# (on PyTorch's `meta` device, which tracks shapes without computing anything):

# %% tags=["nbval-check-output"]
def norm_elements(index):
    """Elements entering each kind of norm (and the pool) in one forward pass of one 224x224 image."""
    with torch.device("meta"):                 # the meta device has shapes but no data: nothing is computed
        model = cl.build_model(index).eval()
    seen = {"BatchNorm": 0, "LayerNorm": 0, "avg pool": 0}
    kinds = ((nn.BatchNorm2d, "BatchNorm"), (nn.LayerNorm, "LayerNorm"), (nn.AdaptiveAvgPool2d, "avg pool"))
    def hook(module, inputs, output):
        for kind, name in kinds:
            if isinstance(module, kind):
                seen[name] += inputs[0].numel()
    for m in model.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    return seen

print(f"{'step':>4} {'BN elements':>12} {'LN elements':>12} │ {'predicted: 2 BN + 5 LN + pool':>30} {'fvcore - paper':>15}")
for index in (13, 14, 15):
    seen = norm_elements(index)
    predicted = 2 * seen["BatchNorm"] + 5 * seen["LayerNorm"] + seen["avg pool"]
    row = cl.count_step(index)
    measured = round((row.gflops_fvcore - row.gflops_paper_convention) * 1e9)
    print(f"{index:>4} {seen['BatchNorm']:>12,} {seen['LayerNorm']:>12,} │ {predicted / 1e6:>24.3f} MFLOP "
          f"{measured / 1e6:>9.3f} MFLOP")

# %% [markdown]
# Step 14 removes two of the three norms of every block, and the biggest ones (the norm after the first
# 1x1 conv sees the 4x wider tensor): fvcore's extra drops from 26.0 to 4.6 MFLOPs. Step 15 keeps the same
# norms but fvcore charges LayerNorm 5 per element instead of 2, so it rises again to 11.4. Per stage, in
# the paper's convention, step 15 spends its compute exactly where step 12 did:

# %%
cl.diagrams.draw_stage_compute(cl.count_step(15).by_part, compare=cl.count_step(12).by_part, compare_label="step 12");

# %% [markdown]
# Free in FLOPs is not free in time, though: activations and norms read and write the whole tensor, and
# notebook 09 measures what that costs.
#
# ## Train it
#
# Steps 12-15, each sized by your profile (the first line of each run says what ran). Under the `smoke`
# profile these runs take seconds and only prove that the code runs: their accuracies mean nothing. With
# the `cpu` profile or a GPU they are real (small) experiments. In the paper the four steps differ by a
# fraction of a point, smaller than the noise of one short run on Imagenette; in ours one of them does not,
# as the next section shows.

# %%
runs = [cl.train(index) for index in (12, 13, 14, 15)]

# %%
cl.lesson.plot_history(*runs)

# %% [markdown]
# ## What BN -> LN cost our runs
#
# In the paper this step is a near-free swap: +0.06 points on ImageNet, and the paper itself notes that
# putting LayerNorm straight into the original ResNet trains worse; only in the modernised block did it hold
# its own. In our small runs it is not free. The committed runs (three seeds of each step, the `cpu`
# profile), printed from their records:

# %% tags=["nbval-check-output"]
cl.lesson.step_effect(15)

# %% [markdown]
# A cost beyond the noise band, where the paper has none. One suspect was the learning rate: the course
# trains every step at the same peak rate, chosen on steps 1 and 16, and LayerNorm networks are often said
# to want a lower one. So before training, a follow-up wrote down what would confirm that and what would
# refute it, then trained steps 14 and 15 at half the rate:

# %% tags=["nbval-check-output"]
cl.lesson.followups_so_far("layernorm-lr")

# %% [markdown]
# Whatever it reads, note what kind of evidence it is: one seed per setting, one other learning rate. A
# single follow-up narrows the question; it rarely closes it. Notebook 08 shows a larger surprise of the
# same kind, in step 16, and takes it apart the same way.
#
# ## Where we are
#
# The roadmap from ResNet-50 to step 15, one row per step: the paper on the left; on the right the
# project's committed reference runs under the `cpu` profile (dots; with several seeds, their mean and a
# bar from the lowest to the highest) and your runs of this notebook (crosses). Steps 12-15 change no
# GFLOPs at all, so any difference between their rows is the design alone (or the seed: notebook 08 reads
# each step's effect against the noise band).

# %%
cl.lesson.roadmap_so_far(15, runs)

# %% [markdown]
# ## Exercises
#
# **1. Does one image's output depend on the rest of the batch?** Measure it, without reading the layer's
# code. Write `depends_on_batch(norm)`: run `norm` (as given: do not change its train/eval mode) on a batch
# of two images of shape (4, 5, 5), then on the same batch with only the *second* image changed, and return
# True if the *first* image's output changed. The check hands you BatchNorm in training and in eval mode,
# LayerNorm and GroupNorm, all on 4 channels.

# %%
def depends_on_batch(norm):
    return None  # your code here

cl.exercises.check("07.batch_dependence", depends_on_batch)

# %% [markdown]
# **2. Count the layers.** Write `norms_and_activations(step)`: the number of normalisation layers and
# the number of activation layers in a repeated block of stage 1 of roadmap step `step` (0-16), as a pair.
# Don't forget the activation after the residual add. The check tries every step.

# %%
def norms_and_activations(step):
    return None  # your code here: return (norms, activations)

cl.exercises.check("07.norms_and_activations", norms_and_activations)

# %% [markdown]
# **3. Fold a BatchNorm into its conv.** In eval mode BatchNorm is a fixed scale and shift per channel,
# so it can be merged into the conv before it, which is why the paper's count leaves it out. Write
# `fold_bn(conv, bn)`: a new `nn.Conv2d`, with a bias, that computes `bn(conv(x))` (bn in eval mode) on its
# own. The check tries a dense conv without a bias and a depthwise one with a bias, with random BatchNorm
# statistics. Then think: why can a LayerNorm not be folded the same way?

# %%
def fold_bn(conv, bn):
    return None  # your code here

cl.exercises.check("07.fold_bn", fold_bn)

# %% [markdown]
# **4. Experiment: LayerNorm with ResNet's activations.** Step 13, fewer activations, was the biggest
# gain of the micro design in the paper (80.62 -> 81.27, Table 10). Does it still matter once the block
# has its final norm? Train step 15 with `activations="all"`: a GELU after the depthwise conv, between the
# 1x1 convs and after the add. Before you run it, predict its parameters and its GFLOPs (paper convention)
# next to step 15's; the next cell counts them.

# %% tags=["nbval-check-output"]
variant = cl.build_model(15, activations="all")
print("same parameters as step 15:", cl.count_params(variant) == cl.count_params(step15))
print("same GFLOPs (paper convention):", round(cl.count_flops(variant), 6) == round(cl.count_flops(step15), 6))
print("activation layers in a repeated block:", sum(isinstance(m, nn.GELU) for m in variant.stages[0].blocks[1].modules()))

# %%
train_experiment = cl.lesson.experiment_by_default(15)
if train_experiment:
    run_acts = cl.train(15, activations="all")

# %% tags=["nbval-check-output"]
if train_experiment:
    print("finished all planned epochs:", len(run_acts.history) == cl.plan_run(15, activations="all").epochs)
    print("all activations:", run_acts.record["config"]["activations"] == "all",
          "| top-1 between 0 and 100:", 0 <= run_acts.top1 <= 100)

# %% [markdown]
# **What does it mean?** If you trained it, compare `print(runs[3].top1, run_acts.top1)` (step 15 and the
# variant). Under the `smoke` profile both are noise. With the `cpu` profile or a GPU: is the gap larger than
# the spread you would expect between two seeds of the same network (train step 15 again with `seed=1` to find
# out)? A Transformer block has one activation, inside its MLP; what would extra activations after the spatial
# mixing and after the add take away from the block?

# %% [markdown]
# **Our committed runs.** Once you have your own answer: the same experiment as the project's reference
# runs did it under the `cpu` profile (seed 0; the first line names the machine), beside the step's own
# run of that seed, with how far apart two seeds of one network fall, and both runs epoch by epoch.

# %%
cl.lesson.experiment_result(15)

# %% [markdown]
# Stuck? `cl.exercises.solution("07.fold_bn")` prints a worked solution.
#
# **Next:** notebook 08 makes the last change, separate downsampling layers, and with it the network
# becomes ConvNeXt-T, weight for weight the published one.
