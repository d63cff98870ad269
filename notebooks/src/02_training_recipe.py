# %% [markdown]
# # 02 · The training recipe (step 1)
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-lesson/convnext-lesson/blob/v0.1.0/notebooks/02_training_recipe.ipynb)
#
# **The paper:** Liu et al., *A ConvNet for the 2020s*, CVPR 2022 ([arXiv 2201.03545](https://arxiv.org/abs/2201.03545)), Section 2.1 (Training Techniques).
#
# **Where we are.** Notebook 01 built ResNet-50 and trained it the 2015 way: roadmap step 0, 76.13% top-1 on
# ImageNet in the paper. Before the paper changes a single layer, it changes *how the network is trained*.
# Vision Transformers (DeiT, Swin) came with a much heavier training recipe than ResNet had, and part of
# their advantage was the recipe, not the architecture. So the paper retrains the **same** ResNet-50 with
# that modern recipe: 76.13 -> 78.82 (+2.7 points), the biggest single gain of the whole roadmap. From here
# on every step uses this recipe, so that each later change is judged fairly.
#
# **You will:** meet each ingredient of the modern recipe (AdamW, warmup + cosine, long schedules, Mixup,
# CutMix, RandAugment, Random Erasing, label smoothing, stochastic depth, EMA), see the augmentations on real
# images, see how the course shrinks the recipe for short runs, train steps 0 and 1, read what our measured
# recipe search found, and do three exercises.
#
# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->
# **Time:** `cpu` **17 minutes**, measured end to end by `tools/time_notebooks.py` on a CPU (2 cores, Intel(R)
# Xeon(R) Processor, AVX512), torch 2.14.1+cu130, 2026-12-07, after the notebooks before it (their 2 runs were
# already in the runs folder: a run already there is loaded, not trained again): 2 training runs, 484-496 s
# each. `smoke` (what the tests run) trains each network for seconds. `colab`: not timed on a T4 yet. The
# training cells print their progress, epoch by epoch. On another CPU, `python -m convnext_lesson cpu-speed`
# measures how fast it trains these networks.
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
# ## What changes: nothing in the network
#
# Step 1 is the first step whose configuration is *identical* to its parent's. Only the recipe differs:

# %% tags=["nbval-check-output"]
cl.lesson.show_change(1)
print("same configuration as step 0:", cl.get_step(1).config == cl.get_step(0).config)

# %% [markdown]
# Both recipes live in `convnext_lesson/training/recipes.py` as a `Recipe` (a frozen dataclass, one field per
# setting). Side by side, with the paper's values (Table 5 of the paper for the modern one):

# %% tags=["nbval-check-output"]
from convnext_lesson.training import recipes
import convnext_lesson.teach.show.recipe_demo as rd

old, new = cl.get_recipe("original"), cl.get_recipe("modern")

def schedule_text(r):
    if r.schedule == "step":
        return f"lr x{r.gamma} at " + ", ".join(f"{m:.0%}" for m in r.milestones) + " of the run"
    return f"linear warmup {r.warmup_fraction:.1%} of the run, cosine to {r.min_lr:g}"

rows = [
    ("optimizer", f"SGD, momentum {old.momentum}", f"AdamW, betas {new.betas}"),
    ("learning rate", f"{old.lr:g} at batch {old.base_batch}", f"{new.lr:g} at batch {new.base_batch}"),
    ("weight decay", f"{old.weight_decay:g} on everything", f"{new.weight_decay:g}, not on norms/biases/scales"),
    ("schedule (per iteration)", schedule_text(old), schedule_text(new)),
    ("random-resized crop", f"area {old.crop_scale}, {old.interpolation}", f"area {new.crop_scale}, {new.interpolation}"),
    ("RandAugment (ops, magnitude)", str(old.randaugment or "-"), str(new.randaugment)),
    ("Mixup / CutMix alpha", "-", f"{new.mixup_alpha} / {new.cutmix_alpha}, one of them on every batch"),
    ("Random Erasing", "-", f"probability {new.random_erasing}"),
    ("label smoothing", "-", f"{new.label_smoothing}"),
    ("stochastic depth (last block)", "-", f"{new.drop_path}"),
    ("EMA of the weights", "-", "off in the roadmap (0.9999 for the final models)"),
    ("epochs on ImageNet (paper)", "90", "300"),
]
print(f"{'setting':30s} {'original (step 0)':34s} modern (steps 1-16)")
for name, a, b in rows:
    print(f"{name:30s} {a:34s} {b}")

# %% [markdown]
# The rest of this notebook takes these ingredients one at a time.

# %% [markdown]
# ## 1. AdamW, and which parameters get weight decay
#
# **Adam** keeps, for every parameter, running averages of its gradient and of its squared gradient, and
# divides the one by the square root of the other: each parameter gets its own step size, so layers whose
# gradients are tiny still move. **AdamW** ("decoupled weight decay") shrinks the weights directly,
# `w <- w - lr * wd * w`, instead of adding `wd * w` to the gradient, where Adam's division would rescale
# it differently for every parameter. The paper uses weight decay 0.05, 500 times SGD's 1e-4 (AdamW's
# decay is multiplied by its much smaller learning rate).
#
# Weight decay is meant for the many weights of the conv and linear layers. The small per-channel
# parameters (biases, the scale and shift of every norm layer, ConvNeXt's layer scale) are left alone:
# there are few of them, and pulling a norm's scale towards zero would simply turn its channel down. The
# package's `recipes.param_groups` makes the two groups; here is the split for ResNet-50 (step 1) and, for
# comparison, ConvNeXt-T (step 16), by kind of parameter. (The models are built on PyTorch's `meta` device:
# shapes only, no memory and no time spent on random initialisation.)

# %% tags=["nbval-check-output"]
from collections import Counter

for step in (1, 16):
    with torch.device("meta"):
        model = cl.build_model(step)
    params = dict(model.named_parameters())
    print(f"step {step} ({cl.count_params(model):,} parameters)")
    for group, names in rd.decay_split(model, new).items():
        kinds = Counter(rd.parameter_kind(model, n) for n in names)
        count = sum(params[n].numel() for n in names)
        print(f"  {group:9s} {len(names):3d} tensors, {count:>10,} parameters ({count / cl.count_params(model):6.2%}): "
              + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))

# %% [markdown]
# More than 99% of the parameters are decayed; the no-decay group is well over a hundred tiny tensors. The
# package's rule is simply "decay only tensors with more than one dimension", plus an exception for layer
# scale, which is stored with shape (C, 1, 1).

# %% [markdown]
# ## 2. Warmup and cosine decay, per iteration
#
# ResNet's recipe keeps the learning rate flat and divides it by 10 at fixed epochs. The modern recipe
# starts it near zero and raises it linearly (**warmup**: at the start the network is random, Adam's
# running averages are empty, and a full-size step can throw training off), then lets it fall along half
# a **cosine** to almost zero at the very end. Both change the rate every iteration, not every epoch, so a
# short run still gets a smooth curve.
#
# Below: the package's real scheduler (`recipes.make_scheduler`, stepped as the trainer steps it). Left,
# the paper's two ImageNet runs (drawn with 10 iterations per epoch: the shape depends only on the
# fractions of the run). Right, the two runs this notebook trains under your profile.

# %%
import matplotlib.pyplot as plt

plt.rcParams["figure.dpi"] = 72   # modest pictures: the saved notebook stays small
profile = cl.get_profile()
per_epoch = rd.steps_per_epoch()
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
for name, epochs, batch in (("original", 90, 256), ("modern", 300, 4096)):
    rates = rd.lr_per_iteration(cl.get_recipe(name).scaled(epochs, batch), epochs * 10)
    left.plot([t / 10 for t in range(len(rates))], rates, label=f"{name}: {epochs} epochs, batch {batch}")
left.set(title="the paper's runs (ImageNet)", xlabel="epoch", ylabel="learning rate", yscale="log")
for name in ("original", "modern"):
    epochs = profile.epochs_for(name)
    recipe = cl.get_recipe(name).scaled(epochs, profile.batch_size)
    rates = rd.lr_per_iteration(recipe, epochs * per_epoch)
    right.plot([t / per_epoch for t in range(len(rates))], rates, ".-", ms=3,
               label=f"{name}: {epochs} epochs x {per_epoch} iterations, batch {profile.batch_size}")
right.set(title=f"this notebook's runs (profile {profile.name}, {profile.dataset})", xlabel="epoch",
          yscale="log")
for ax in (left, right):
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# (Log scale: each step down of the original recipe is a factor of 10.) A check of the paper-sized
# modern schedule: the rate reaches the paper's 4e-3 when the 20 warmup epochs end, and ends at the
# paper's minimum, 1e-6.

# %% tags=["nbval-check-output"]
rates = rd.lr_per_iteration(cl.get_recipe("modern").scaled(300, 4096), 3000)
for epoch in (0, 10, 20, 160, 299.9):
    print(f"epoch {epoch:5g}: lr {rates[round(epoch * 10)]:.3g}")

# %% [markdown]
# ## 3. Long schedules, and how the course shrinks the recipe
#
# The paper trains for 300 epochs where ResNet had 90. The heavy augmentation below makes every epoch
# harder, so the network needs many more passes over the data to fit it. We cannot afford 300 epochs, and
# the paper's settings are sized for 1.28 million images at batch 4096. `Recipe.scaled(epochs, batch)`
# adapts the recipe to each run by one rule (read its docstring in `recipes.py`):
#
# * **learning rate** linear in the batch: SGD 0.1 x batch/256; AdamW 4e-3 x batch/4096 but at least
#   `lr_floor` (AdamW's steps do not shrink with the batch the way SGD's do, and a tiny rate barely moves a
#   short run);
# * **warmup and the step milestones** keep their fractions of the run, counted in iterations;
# * **augmentation and regularisation strength** `s = min(1, epochs / full_strength_epochs)`: Mixup/CutMix
#   and Random Erasing happen with probability x s, stochastic depth's rate scales by s, RandAugment's number
#   of operations and its magnitude scale by s (rounded: with 2 operations, RandAugment is off below
#   s = 0.25), and the random crop's smallest area moves in a straight line from 0.6 of the image (s = 0)
#   to the paper's 0.08 (s = 1).
#
# The reasoning behind the last rule: a run of a few epochs is far from memorising its training set, so
# regularisation sized for 300 epochs may only slow it down. That was a hypothesis; the end of this
# notebook shows the measured runs that bear it out at the `cpu` profile's 12 epochs. What the rule gives for every profile (each
# profile's dataset and epochs; the original recipe runs `original_epoch_ratio` of the modern epochs):

# %% tags=["nbval-check-output"]
print(f"{'run':18s} {'epochs':>10s} {'batch':>5s} {'lr SGD':>7s} {'lr AdamW':>8s} │ {'s':>4s} {'mix p':>5s} "
      f"{'RA mag':>6s} {'erase p':>7s} {'drop path':>9s} {'crop min':>8s}")
runs = [("paper (ImageNet)", 90, 300, 256, 4096)]
runs += [(p.name, p.epochs_for("original"), p.epochs_for("modern"), p.batch_size, p.batch_size)
         for p in cl.profiles.PROFILES.values()]
for name, e_old, e_new, b_old, b_new in runs:
    o, m = cl.get_recipe("original").scaled(e_old, b_old), cl.get_recipe("modern").scaled(e_new, b_new)
    print(f"{name:18s} {f'{e_old} / {e_new}':>10s} {b_new:5d} {o.lr:7.4f} {m.lr:8.4f} │ {m.strength:4.2f} "
          f"{m.mix_prob:5.2f} {str(m.randaugment[1]) if m.randaugment else 'off':>6s} {m.random_erasing:7.3f} {m.drop_path:9.3f} {m.crop_scale[0]:8.3f}")
print("epochs: original / modern recipe; batch: both recipes; s: strength = min(1, epochs / 100).")
print(f"crop min = {recipes.WEAK_CROP_SCALE} + s x ({new.crop_scale[0]} - {recipes.WEAK_CROP_SCALE}); "
      f"RandAugment: round({new.randaugment[0]} s) ops at magnitude max(1, round({new.randaugment[1]} s)), off at 0 ops.")

# %% [markdown]
# Your profile's two recipes, exactly as `cl.train` will use them below:

# %%
for name in ("original", "modern"):
    print(recipes.describe(cl.get_recipe(name).scaled(profile.epochs_for(name), profile.batch_size)), "\n")

# %% [markdown]
# ## 4. Augmentation on real images
#
# Data augmentation shows the network a different version of each image at every epoch, so that it
# cannot memorise the training set. The pictures below come from the dataset your profile trains on
# (`imagenette-tiny`, the real sample shipped with the course, under `smoke`), pushed through the
# package's own transforms (`recipes.train_transform`, torchvision's transforms v2), which is exactly what
# `cl.train` runs. To see one ingredient at a time we switch the others off in a copy of the paper's full-
# strength recipe (`Recipe.replace`), and show the images at 128 px.
#
# * **Random-resized crop + flip** (both recipes): a random part of the image, 8% to 100% of its area,
#   stretched to the training size, mirrored half the time.
# * **RandAugment** (modern): two operations drawn at random from a list (rotate, shear, translate,
#   colour, contrast, brightness, sharpness, posterize, solarize, equalize, ...) at a fixed magnitude.
# * **Random Erasing** (modern): with probability 0.25, a random rectangle is filled with random noise
#   (a normal value per pixel, as the "pixel" mode of the paper's code). Forced to probability 1 below so
#   that you see it.

# %%
SHOW = 128
images, targets, names, dataset = rd.sample_images(n=4)
paper = cl.get_recipe("modern").scaled(300, 4096)           # the paper's full-strength recipe
only = dict(crop_scale=(1.0, 1.0), randaugment=None, random_erasing=0.0)   # everything off (a full-image "crop")
variants = {
    "random-resized crop\n+ flip": paper.replace(**{**only, "crop_scale": paper.crop_scale}),
    "RandAugment\n(2 ops, magnitude 9)": paper.replace(**{**only, "randaugment": paper.randaugment}),
    "Random Erasing\n(probability forced to 1)": paper.replace(**{**only, "random_erasing": 1.0}),
}
grid = {"original image": [recipes.eval_transform(SHOW, SHOW)(image) for image in images]}
grid.update({label: [rd.augment(recipes.train_transform(r, SHOW), image, seed=i) for i, image in enumerate(images)]
             for label, r in variants.items()})
cl.notebook.show_photos(rd.show_grid(grid, names), dpi=64)   # JPEG, about the images' own 128 px

# %% [markdown]
# A detail worth knowing if you compare with the paper's code: torchvision counts RandAugment's magnitude
# on a scale set by `num_magnitude_bins` (31 bins by default: 0 to 30), timm (which the paper used) on a
# scale of 0 to 10, so the same "magnitude 9" need not mean the same strength: with torchvision's default
# it would be a third of the paper's. The package asks for 11 bins (0 to 10), so that 9 means what it
# means in the paper. What the transform built above really does, for rotation, beside the paper's:

# %% tags=["nbval-check-output"]
from torchvision.transforms import v2

augment_op = next(t for t in recipes.train_transform(paper, SHOW).transforms if isinstance(t, v2.RandAugment))
bins = augment_op.num_magnitude_bins
print(f"torchvision RandAugment: magnitude {augment_op.magnitude} of {bins - 1} -> rotation up to "
      f"{30 * augment_op.magnitude / (bins - 1):.0f} degrees")
print(f"timm's rand-m9 (the paper's): magnitude 9 of 10 -> rotation up to {30 * 9 / 10:.0f} degrees")

# %% [markdown]
# ### Mixup and CutMix: mixing two images, and their labels
#
# These two work on a whole batch (`recipes.BatchMixer`, torchvision's `v2.MixUp` / `v2.CutMix`). Each
# image is paired with another image of the batch and a fraction `lam` is drawn from a Beta(alpha, alpha)
# distribution (alpha 0.8 for Mixup, 1.0 for CutMix, one `lam` per batch):
#
# * **Mixup** blends the two images pixel by pixel: `lam * image_a + (1 - lam) * image_b`;
# * **CutMix** pastes a rectangle of image b, covering a fraction `1 - lam` of the area, into image a.
#
# In both, the *label* is mixed the same way: the target is no longer "tench" but "`lam` tench + `1 - lam`
# church". The network is rewarded for seeing both objects in proportion. The modern recipe applies
# one of the two (chosen at random) to every batch. The titles are the mixed labels `BatchMixer` returns:

# %%
batch = torch.stack(grid["original image"])
labels = torch.tensor(targets)
class_names = [rd.class_name(c) for c in dataset.classes]
mixed = {}
for label, r in (("Mixup", paper.replace(cutmix_alpha=0.0)), ("CutMix", paper.replace(mixup_alpha=0.0))):
    torch.manual_seed(1)
    mixed[label] = recipes.BatchMixer(r, len(class_names))(batch, labels)   # (images, soft labels)
cl.notebook.show_photos(rd.show_grid(
    {label: list(images_) for label, (images_, _) in mixed.items()},
    [[rd.soft_label_text(t, class_names, sep="\n+ ") for t in soft] for _, soft in mixed.values()], size=2.3), dpi=64)

# %% [markdown]
# ### What the network really sees under your profile
#
# The full pipeline of your profile's *scaled* recipe (section 3), at your profile's training resolution,
# on eight training images as the trainer stores them (decoded once at `image_size / 0.875`), followed by the
# batch mixer: this is what a batch of `cl.train(1)` looks like. Under
# `smoke` the strength is tiny (3 epochs), so few images are erased or mixed, and the images are only
# 32x32 pixels.

# %%
scaled = cl.get_recipe("modern").scaled(profile.epochs, profile.batch_size)
stored, stored_labels = cl.data.preload(dataset, "train", cl.data.eval_resize(profile.image_size))  # as cl.train
picks = [int((stored_labels == c).nonzero()[0, 0]) for c in range(8)]          # one image of 8 classes
transform = recipes.train_transform(scaled, profile.image_size)
x = torch.stack([rd.augment(transform, stored[i], seed=i) for i in picks])
torch.manual_seed(0)
x, y = recipes.BatchMixer(scaled, len(class_names))(x, stored_labels[picks])
y = y if y.dim() == 2 else nn.functional.one_hot(y, len(class_names)).float()
cl.notebook.show_photos(rd.show_grid({f"{profile.image_size} px": list(x)},
                                    [rd.soft_label_text(t, class_names, sep="\n+ ") for t in y], size=1.5))

# %% [markdown]
# ## 5. Label smoothing: a softer target
#
# Cross-entropy against a one-hot target keeps pushing the correct logit up forever: the loss only reaches
# zero at infinite confidence. **Label smoothing** with eps = 0.1 moves 10% of the target's mass onto all
# classes evenly: the true class gets `1 - eps + eps/K`, every class `eps/K`. For our 10 classes and true
# class 3:

# %% tags=["nbval-check-output"]
import torch.nn.functional as F

eps, K = 0.1, 10
y_true = torch.tensor([3])
target = F.one_hot(y_true, K) * (1 - eps) + eps / K
print("one-hot :", " ".join(f"{v:.2f}" for v in F.one_hot(y_true, K)[0].tolist()))
print("smoothed:", " ".join(f"{v:.2f}" for v in target[0].tolist()))
logits = torch.randn(1, K, generator=torch.Generator().manual_seed(0))
by_hand = -(target * logits.log_softmax(1)).sum()
print("cross-entropy against it == PyTorch's label_smoothing=0.1:",
      torch.allclose(by_hand, F.cross_entropy(logits, y_true, label_smoothing=eps)))
print(f"ImageNet (K = 1000): true class {1 - eps + eps / 1000:.4f}, every other class {eps / 1000:.4f}")

# %% [markdown]
# The trainer uses `nn.CrossEntropyLoss(label_smoothing=0.1)`, which smooths Mixup's and CutMix's soft
# labels in the same way. The three targets side by side (the mixed one is the first Mixup image above):

# %%
mixup_target = mixed["Mixup"][1][0]
fig, axes = plt.subplots(1, 3, figsize=(10, 2.2), sharey=True)
for ax, (title, t) in zip(axes, (("one-hot (original recipe)", F.one_hot(labels[0], K).float()),
                                 ("label smoothing 0.1", F.one_hot(labels[0], K) * (1 - eps) + eps / K),
                                 ("Mixup, then smoothing", mixup_target * (1 - eps) + eps / K))):
    ax.bar(range(K), t, color="#219ebc")
    ax.set_xticks(range(K), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)
axes[0].set_ylabel("target probability")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Stochastic depth
#
# **Stochastic depth** (also called drop path) skips whole residual blocks at random while training: for
# each image, a block's residual branch is dropped with probability `p` (the block passes its input through
# unchanged) and otherwise scaled by `1 / (1 - p)`, so that its average contribution stays the same. At test
# time every block runs. It trains an ensemble of shallower networks. The rate rises **linearly** with the
# block's index, from 0 for the first block to the recipe's value for the last (0.1 for ConvNeXt-T, which
# the package uses for every modern step): early blocks compute features everything else needs; late
# blocks can be skipped more safely. The rates of full-size ResNet-50's 16 blocks:

# %% tags=["nbval-check-output"]
with torch.device("meta"):
    model = cl.build_model(1, drop_path=new.drop_path)
rates = rd.drop_path_rates(model)
start = 0
for i, depth in enumerate(model.config.depths):
    print(f"stage {i + 1}: " + "  ".join(f"{r:.3f}" for r in rates[start:start + depth]))
    start += depth

# %% [markdown]
# What one block with `p = 0.5` does to a batch of eight images in training mode: some rows of its residual
# branch are zeroed, the others doubled (torchvision's `StochasticDepth`, which the package's blocks use).

# %%
from torchvision.ops import StochasticDepth

torch.manual_seed(0)
branch = torch.ones(8, 1, 1, 1)                 # stand-in for the residual branch of 8 images
kept = StochasticDepth(0.5, "row").train()(branch).flatten()
print("branch scale per image (training):", kept.tolist())
print("at test time:", StochasticDepth(0.5, "row").eval()(branch).flatten().tolist())

# %% [markdown]
# ## 7. EMA of the weights, and why the roadmap turns it off
#
# An **exponential moving average** keeps a second copy of the weights, updated after every iteration as
# `ema = decay * ema + (1 - decay) * weights`; it averages roughly the last `1 / (1 - decay)` iterations and
# is often a little better than the final weights. The paper's final ConvNeXt models use decay 0.9999. But
# its roadmap runs had EMA **off**, because "EMA severely hurts models with BatchNorm layers": a
# BatchNorm network depends on running statistics of its activations, and an average of many past weight
# settings need not match the statistics any of them produced. `cl.train(step, ema=True)` keeps an EMA
# (weights and BatchNorm statistics averaged alike) and reports its accuracy beside the plain weights'. The
# paper's 0.9999 averages about a tenth of its roughly 94,000 iterations; the package keeps that ratio for
# short runs (`recipes.ema_decay_for`):

# %% tags=["nbval-check-output"]
for iterations in (36, 1_000, 10_000, 94_000):
    decay = recipes.ema_decay_for(iterations)
    print(f"a run of {iterations:>6,} iterations: decay {decay:.5f} (averages ~{1 / (1 - decay):,.0f} iterations)")

# %% [markdown]
# ## Before a long run: the two checks a practitioner makes first
#
# A long run that was broken from its first step costs the whole run. Two checks take seconds and catch
# most mistakes in a network, its loss or the code around them (Karpathy's "A Recipe for Training Neural
# Networks" puts them first):
#
# 1. **The loss at initialisation.** A fresh network knows nothing, so it should give every class about the
#    same probability, and the cross-entropy of the true class is then
#    $-\log p_{\text{true}} \approx -\log \tfrac{1}{10} = \ln 10 \approx 2.30$ for ten classes. Much more
#    means the network starts confidently wrong (an init or a last layer too large).
# 2. **Overfit one batch.** Train on eight images, again and again. A network that cannot learn eight
#    images by heart has a bug: labels that do not belong to the images, a loss that does not see the
#    logits, an optimizer that was given no parameters, gradients that never reach it.
#
# Both run here as a plain PyTorch loop: the five lines at the heart of every trainer. The package's
# `Trainer` wraps exactly these (forward, loss, zero the gradients, backward, step) in mixed precision,
# gradient accumulation, checkpoints and the rest.

# %%
import math
import torch.nn.functional as F

plan = cl.plan_run(1)                                   # step 1's network as your profile sizes it
torch.manual_seed(0)
net = cl.Network(plan.config, plan.num_classes)
dataset = cl.data.locate(plan.dataset)
images, labels = cl.data.preload(dataset, "train", plan.profile.image_size)
pick = [int(i * len(labels) / 8) for i in range(8)]     # eight images, spread over the classes
x, y = cl.recipes.normalize_transform()(images[pick]), labels[pick]

with torch.no_grad():
    loss_at_init = F.cross_entropy(net(x), y).item()
print(f"loss at initialisation: {loss_at_init:.3f}; ln 10 = {math.log(10):.3f}")

optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
losses = []
for step in range(1, 101):
    loss = F.cross_entropy(net(x), y)   # forward and loss
    optimizer.zero_grad()               # forget the last step's gradients
    loss.backward()                     # gradients of the loss for every parameter
    optimizer.step()                    # move the parameters
    losses.append(loss.item())
    if step % 25 == 0:
        print(f"step {step:3d}: loss {loss.item():.4f}")

# %% tags=["nbval-check-output"]
print("loss at init within 0.5 of ln 10:", abs(loss_at_init - math.log(10)) < 0.5)
print("eight images learned by heart (loss under 0.05 in the last 20 steps):", min(losses[-20:]) < 0.05)

# %% [markdown]
# **Break it on purpose.** Delete `optimizer.step()` and run the cell again: what does the loss do? Put it
# back and train on `y.roll(1)` (every image with its neighbour's label): the network still learns the
# eight images. So this check finds bugs in the *code*, not in the data: for the data, look at the
# images with their labels, as notebook 00 does.

# %% [markdown]
# **A third check: what flows through each stage.** A network can pass both checks above and still train
# badly because one part of it is silent or exploding. Look inside on one batch of the fresh network:
# the size (standard deviation) of each stage's output in the forward pass, and of the gradient that
# reaches each stage's weights in the backward pass. Forward hooks collect the first without changing
# the network; the second is in each parameter's `.grad` after `backward()`.

# %%
torch.manual_seed(0)
net = cl.Network(plan.config, plan.num_classes)
outputs = {}
hooks = [stage.register_forward_hook(lambda module, inputs, output, k=k: outputs.__setitem__(k, output.detach()))
         for k, stage in enumerate(net.stages)]
F.cross_entropy(net(x), y).backward()
for hook in hooks:
    hook.remove()

stats = {}
for k, stage in enumerate(net.stages):
    grad_norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in stage.parameters())).item()
    weight_norm = torch.sqrt(sum(p.detach().pow(2).sum() for p in stage.parameters())).item()
    stats[k + 1] = (outputs[k].std().item(), (outputs[k] == 0).float().mean().item(), grad_norm / weight_norm)
    print(f"stage {k + 1}: output std {stats[k + 1][0]:6.3f}, exactly zero {stats[k + 1][1]:4.0%} "
          f"(after the last ReLU) | gradient / weight norm {stats[k + 1][2]:.2e}")

# %% tags=["nbval-check-output"]
print("every stage's output std between 0.1 and 10:", all(0.1 < std < 10 for std, _, _ in stats.values()))
print("no stage dead (under 95% zeros):", all(zeros < 0.95 for _, zeros, _ in stats.values()))
print("every stage gets a gradient:", all(ratio > 0 for _, _, ratio in stats.values()))

# %% [markdown]
# Healthy looks like this: outputs of about the same size from stage to stage (BatchNorm and Kaiming's
# init see to that), about half of each ReLU's outputs zero, and a gradient in every stage, relative to
# its weights, within a factor of a few hundred of the others. A stage whose outputs are all zero (a dead
# ReLU stage), an output std growing tenfold per stage, or a gradient ratio many orders of magnitude
# below the others' is a bug to find before the long run. Notebook 08 uses the same idea on each residual
# block, and finds why one way of starting step 16 cannot train in a short run.
#
# ## Your loop is the Trainer
#
# The five lines above are all the package's `Trainer` does in a step; the rest is bookkeeping
# (batches, mixing, the schedule, checkpoints, records). Prove it: the next cell builds the Trainer of
# `cl.train(1)` under your profile (its network, data, recipe and seed), and runs three of its steps
# beside three of *your* step function, from the same weights on the same batches, mixed by the same
# random numbers. The Trainer's optimizer (AdamW with the recipe's weight-decay groups), its scheduler
# (warmup, then cosine) and its loss (with label smoothing) are handed to your function.

# %%
from convnext_lesson.teach.lab import own_loop

def my_train_step(model, optimizer, scheduler, criterion, x, y):
    loss = criterion(model(x), y)   # forward and loss (y: soft targets when the batch was mixed)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()                # the learning rate of the next step
    return loss

check = own_loop.compare_with_trainer(my_train_step, steps=3)
print(check)

# %% tags=["nbval-check-output"]
print("same weights as the Trainer after three steps, bit for bit:", check.same_weights)

# %% [markdown]
# Bit for bit, not approximately: the same operations in the same order give the same floating-point
# numbers. **Break it on purpose** again: move `optimizer.zero_grad()` below `optimizer.step()` (so
# the first step is right and every later one adds two steps' gradients), or drop `scheduler.step()`.
# Which step's loss differs first, and why not the first?

# %% [markdown]
# ## Train it: step 0 against step 1
#
# Now the comparison of the roadmap's first step: the same network, trained once with each recipe, sized by
# your profile. Under `smoke` the network is scaled down, the data is 200 images, the runs take seconds, and
# the accuracies only prove that the code runs.
#
# Step 0 is notebook 01's run. `cl.lesson.earlier_run` takes it from your runs folder; if it is not there (a
# fresh Colab runtime, say), you get the committed reference run instead, labelled as the reference and not
# as yours, and nothing trains unless you pass `train=True`.

# %%
run0 = cl.lesson.earlier_run(0, "01")

# %%
run1 = cl.train(1)

# %%
cl.lesson.plot_history(run0, run1)

# %% [markdown]
# ## What our measured runs say: the recipe search
#
# Which ingredients help a *short* run? Answering that takes real runs, one per variant and network (the table
# below gives each one's wall time), so this notebook does not retrain every variant: the project ran them
# once, under the `cpu` profile, and committed their records (`convnext_lesson/reference/recipe_search/`).
# Each variant changes one thing in the `cpu` profile's scaled modern recipe (the one you trained above) and
# trains two networks: step 1 (ResNet-shaped) and step 16 (ConvNeXt-T's design). The rule that picks the
# course's recipe was fixed before any run: one recipe for both networks (as the paper uses one for every
# step); the variant with the highest mean top-1 of the two wins, and a variant within 0.5 points of the best
# counts as a tie, which goes to the variant closer to the paper. It runs in two stages:
#
# * **stage 1, the learning rate**: `base` (the scaled recipe as it is: peak 2e-3 at batch 64) against
#   `lr4e-3` (the paper's peak rate, 4e-3);
# * **stage 2, the regularisation**, at stage 1's rate: RandAugment at the paper's magnitude 9, Mixup/CutMix
#   on every batch with Random Erasing at 0.25 (the paper's probabilities), and no regularisation at all,
#   each against `base`, whose strength is scaled down by the run length (section 3).
#
# The table is built from whatever records exist when you run this cell, and lists the variants that are
# not run yet.

# %%
print(rd.recipe_search_table())
print()
print(rd.recipe_search_reading())
for step, records in cl.reference_results("resnet50", "cpu").items():   # the same run, several seeds
    if len(records) > 1:
        print(f"seed to seed (committed reference runs, cpu profile): step {step}: "
              + ", ".join(f"seed {r['seed']} {r['top1']:.1f}%" for r in records))

# %% [markdown]
# **How to read it.** Both stages are done; the lines under the table give each variant against `base`.
# Stage 1: the paper's peak rate, 4e-3, and the scaled recipe's 2e-3 tie by the rule's margin, so the rule
# keeps 2e-3. Stage 2 answers the question section 3's scaling rule rests on: at the paper's full
# strength, regularisation *hurts* a 12-epoch run. RandAugment at magnitude 9 cost both networks the most,
# Mixup/CutMix on every batch with Random Erasing at 0.25 less, but still far more than the margin.
# Switching the (already light) scaled regularisation off ties with `base` on the mean, so the course
# keeps the scaled recipe, the one you trained above.
#
# One run per cell, and the last lines show how much the seed alone moves a run of this size:
# differences of that size say "no measurable difference", not "better". The search trained step 16 as
# the paper builds it, which a 12-epoch run trains far worse than the ResNet-shaped step 1; why, and what
# the `cpu` profile trains instead, is notebook 08's story. The wall times are from a 2-core machine that
# was sometimes busy with other work (each record's note says so): an idle laptop trains a step faster.
#
# **Your turn: one row of the table, yourself.** The next cell trains step 1 once more (the size of your
# `run1`) with stage 2's Mixup/CutMix on every batch and Random Erasing at the paper's 0.25, instead of
# the scaled-down probabilities. Before it runs: will it land above or below your `run1`, and by more
# than the seed-to-seed spread above? (Set `train_variant = False` to skip it.)

# %%
train_variant = True
change = rd.RECIPE_SEARCH_PLAN["base+mix-erase-full"]
if train_variant:
    variant_run = cl.train(1, recipe=change)
    print(f"yours, step 1, profile {run1.record['profile']}, seed {run1.record['seed']}: scaled modern recipe "
          f"{run1.top1:.1f}%, with {change}: {variant_run.top1:.1f}% ({variant_run.top1 - run1.top1:+.1f} points)")

# %% [markdown]
# The committed runs of the same row (the table's `base` and `base+mix-erase-full`, step 1) sat in the table
# above all along; here they are beside yours, epoch by epoch (yours has your profile's epochs). Under
# `smoke` yours are noise.

# %%
print(rd.recipe_search_row_text("base+mix-erase-full", step=1))
if train_variant:
    for name, run in (("yours, base", run1), ("yours, base+mix-erase-full", variant_run)):
        print(f"  val top-1 by epoch, {name + ':':28s}" + " ".join(f"{m['val_top1']:4.1f}" for m in run.history))

# %% [markdown]
# ## Where we are
#
# The paper's steps 0 and 1 on the left; on the right your runs (crosses) and the project's committed
# reference runs under the `cpu` profile. Same GFLOPs, different accuracy: the whole gain of step 1 comes from training.

# %%
cl.lesson.roadmap_so_far(1, [run0, run1])

# %% [markdown]
# ## Exercises
#
# **1. Label smoothing.** Write `smooth_targets(labels, num_classes, eps)`: for a tensor of N class
# indices, the (N, num_classes) target matrix that cross-entropy with label smoothing `eps` compares the
# predictions with.

# %%
def smooth_targets(labels, num_classes, eps):
    return None  # your code here

cl.exercises.check("02.label_smoothing", smooth_targets)

# %% [markdown]
# **2. Warmup + cosine.** Write `lr_at(t, total_steps, warmup_steps, peak_lr, min_lr)`: the learning rate of
# iteration `t` (0-based) as the package's scheduler gives it. During warmup it rises linearly from
# `peak_lr / (warmup_steps + 1)` at `t = 0` to `peak_lr` at `t = warmup_steps`; after that it follows half a
# cosine from `peak_lr` down towards `min_lr`, which it would reach at `t = total_steps`. (Compare with the
# plot in section 2.)

# %%
def lr_at(t, total_steps, warmup_steps, peak_lr, min_lr):
    return None  # your code here

cl.exercises.check("02.warmup_cosine", lr_at)

# %% [markdown]
# **3. Who gets weight decay?** Write `gets_weight_decay(name, param)`: `True` for the parameters AdamW
# decays in the modern recipe, `False` for the others. The check runs it on every parameter of ResNet-50
# and of ConvNeXt-T (which has LayerNorms and layer scale) and compares with `recipes.param_groups`.

# %%
def gets_weight_decay(name, param):
    return None  # your code here

cl.exercises.check("02.weight_decay", gets_weight_decay)

# %% [markdown]
# Stuck? `cl.exercises.solution("02.warmup_cosine")` prints a worked solution.
#
# **Next:** notebook 03 starts changing the network itself: how many blocks each stage gets, and a stem
# that cuts the image into patches like a Vision Transformer.
