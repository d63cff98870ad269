"""Random values in every tensor of a model, for weight-porting tests."""
import torch


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every tensor that init leaves constant (norms, biases, BN statistics, layer
    scale) random values, so that a wrong mapping of any tensor changes the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("layer_scale", "gamma")):
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 + 0.1)
            elif t.dim() == 1 and name.endswith("weight"):  # norm scales
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 + 0.2)
            elif t.dim() == 1:  # biases and running means
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model
