"""Sufficient Input Subsets (tdlib.sis, App. B): the ranking of an additive model is its contributions'
order, a network that reads one corner is found looking there, and batching changes little."""
import numpy as np
import torch
import torch.nn as nn

from tdlib.sis import backward_selection, centre_of_mass, sis_heatmap, top_mask


class Additive(nn.Module):
    """logit_1 - logit_0 = sum over 2x2 patches of w_f * (sum of the patch's pixels): removing patch f
    changes the margin by -w_f * value_f, independently of the others."""
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))     # (4,4) patch weights

    def forward(self, x):                                                  # (B,3,8,8)
        s = nn.functional.avg_pool2d(x.sum(1, keepdim=True), 2)[:, 0] * 4  # (B,4,4) patch sums
        m = (s * self.w).flatten(1).sum(1)
        return torch.stack([-m / 2, m / 2], 1)


def test_exact_backward_selection_of_an_additive_model_is_its_contribution_order():
    torch.manual_seed(0)
    x = torch.rand(3, 8, 8) + 0.5                                          # positive pixels
    w = torch.randn(4, 4)
    model = Additive(w)
    order = backward_selection(model, x, patch=2, remove_per_round=1)
    assert sorted(order.tolist()) == list(range(16))                       # a ranking: each patch once
    contrib = (nn.functional.avg_pool2d(x.sum(0)[None], 2)[0] * 4 * w).flatten()
    cls = int(model(x[None]).argmax(1))
    signed = contrib if cls == 1 else -contrib                             # support for the predicted class
    assert order.tolist() == torch.argsort(signed).tolist()               # least supportive removed first


def test_batched_rounds_keep_the_most_needed_patches_last():
    torch.manual_seed(1)
    x = torch.rand(3, 8, 8) + 0.5
    model = Additive(torch.randn(4, 4))
    exact = backward_selection(model, x, patch=2, remove_per_round=1)
    batched = backward_selection(model, x, patch=2, remove_per_round=4)
    assert set(exact[-4:].tolist()) == set(batched[-4:].tolist())        # additive: the same top set


class Corner(nn.Module):
    """Decides on the red channel of the top-right 4x4 corner only (a planted cue)."""
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        m = x[:, 0, :4, -4:].mean((1, 2)) * 5 + self.b
        return torch.stack([-m, m], 1)


def test_heatmap_of_a_network_that_reads_one_corner_lies_in_that_corner():
    torch.manual_seed(2)
    x = torch.randn(6, 3, 32, 32)
    heat = sis_heatmap(Corner(), x, patch=2, remove_per_round=8)
    assert heat.shape == (32, 32) and 0 <= heat.min() and heat.max() <= 1
    corner = np.zeros((32, 32), dtype=bool)
    corner[:4, -4:] = True
    # the corner's patches that support the decision are in every top set; the other 9+ of the 13 top
    # patches are ties (untouched pixels), spread at random over the rest of the image
    assert heat[corner].mean() > 10 * heat[~corner].mean(), (heat[corner].mean(), heat[~corner].mean())
    cy, cx, spread = centre_of_mass(np.where(corner, heat, 0.0))
    assert cy < 4 and cx >= 28 and spread < 3, (cy, cx, spread)


def test_top_mask_keeps_five_percent():
    order = np.random.default_rng(0).permutation(256)
    m = top_mask(order, (32, 32), 2)
    assert m.sum() == 13 * 4                                               # round(0.05 * 256) patches
