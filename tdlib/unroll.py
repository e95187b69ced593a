"""Differentiable unrolled inner loop and the proxy agreement score (Sec. 4.1, App. I.1, Algorithm 1).

The engine is plain ``torch.func.functional_call`` + ``torch.autograd.grad(create_graph=True)``:
each inner network is a *stateless shell* module plus a dict of parameter tensors and a dict of
buffers. One inner SGD step maps ``(params, buffers)`` to new dicts; nothing is written into the
module, so the whole unrolled trajectory stays in the autograd graph and the meta-gradient w.r.t.
whatever produced the training targets (the task network) is ``torch.autograd.grad`` of the result.

BatchNorm: the inner networks run in train mode (batch statistics, as in ordinary training). Their
running statistics are carried functionally: every step works on a *clone* of the buffers, which
BatchNorm updates in place, and returns it as the new buffers. Recomputing a step (activation
checkpointing) therefore cannot update the statistics twice.

Memory: with ``checkpoint=True`` the forward keeps no graph, only each inner step's input state
(the parameters and buffers of both networks), and the meta-backward walks the steps in reverse,
recomputing one step with its double-backward graph at a time and carrying the adjoint of the state
(:class:`_CheckpointedUnroll`, plain ``torch.autograd.grad`` with ``grad_outputs``). The memory of
ResNet-18 at the paper setting (50 steps, batch 512, two networks) drops from 50 steps x activations
to 50 x parameters + one step's graph (numbers.md: every inner step checkpointed). We tried
``torch.utils.checkpoint`` (non-reentrant) around each step first: it gives the same gradients but
saved almost no memory, because the ``autograd.grad`` inside the step unpacks (recomputes) the
saved activations already during the forward.

Proxy-AS (Algorithm 1): both networks see the same fresh batch at every step; *before* the update
on it we add the agreement term, the negative symmetrised cross-entropy between their predicted
distributions, ``-(CE(p1, p2) + CE(p2, p1)) / 2``; then each takes one SGD step on the cross-entropy
to the task's soft labels. The proxy-AS is the mean of the terms over the steps that ran. Early stop
(App. I.2; the authors' xas config): after at least ``early_stop_min_steps`` steps, stop once the 0-1
agreement on the batch was above ``early_stop_agreement`` at each of the last ``early_stop_patience``
steps (authors: 0.6, 3 steps, at least 5 steps).

Host syncs: the 0-1 agreements stay on the device as one tensor; the loop reads them back only
where early stop can fire (from step ``max(early_stop_min_steps, early_stop_patience)`` on, and
only when the threshold can be reached), so an unroll without early stop runs without a sync.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call


@dataclass
class FunctionalNet:
    """A module used only as a stateless shell, with its parameters and buffers held outside."""
    module: torch.nn.Module
    params: dict
    buffers: dict

    @classmethod
    def from_module(cls, module: torch.nn.Module, requires_grad: bool = True) -> "FunctionalNet":
        params = {k: v.detach().clone().requires_grad_(requires_grad) for k, v in module.named_parameters()}
        buffers = {k: v.detach().clone() for k, v in module.named_buffers()}
        return cls(module.train(), params, buffers)

    def __call__(self, x, params=None, buffers=None):
        """Forward in train mode on clones of the buffers; returns ``(out, new_buffers)``."""
        new_buffers = {k: v.clone() for k, v in (self.buffers if buffers is None else buffers).items()}
        out = functional_call(self.module, (self.params if params is None else params, new_buffers), (x,))
        return out, new_buffers


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy ``-sum_c q_c log softmax(logits)_c`` to soft targets (B,K)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(1).mean()


def agreement_term(logits1: torch.Tensor, logits2: torch.Tensor) -> torch.Tensor:
    """Negative symmetrised cross-entropy between two networks' predictions (higher = agree more)."""
    p1, p2 = F.softmax(logits1, 1), F.softmax(logits2, 1)
    return -0.5 * (soft_cross_entropy(logits2, p1) + soft_cross_entropy(logits1, p2))


def sgd_step(net: FunctionalNet, params: dict, buffers: dict, x, target_probs, lr: float,
             create_graph: bool = True):
    """One differentiable SGD step on the soft cross-entropy. Returns ``(logits, params', buffers')``."""
    logits, new_buffers = net(x, params, buffers)
    loss = soft_cross_entropy(logits, target_probs)
    names = list(params)
    grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=create_graph)
    new_params = {k: params[k] - lr * g for k, g in zip(names, grads)}
    if not create_graph:             # evaluation: keep no graph across steps
        new_params = {k: v.detach().requires_grad_() for k, v in new_params.items()}
    return logits, new_params, new_buffers


@dataclass
class ProxyASResult:
    proxy_as: torch.Tensor              # scalar, differentiable w.r.t. the targets' parameters
    extra: torch.Tensor                 # mean of ``target_fn``'s second output over the steps
    agreement01: list = field(default_factory=list)   # 0-1 agreement on each step's batch (floats)
    steps: int = 0                      # inner steps run (early stop may end before the budget)
    nets: list = field(default_factory=list)          # final (params, buffers) of each network


class _CheckpointedUnroll(torch.autograd.Function):
    """Checkpointed backprop through the unroll: the forward keeps only each step's input state
    (parameters and buffers of both networks); the backward walks the steps in reverse, recomputes
    one step at a time with its double-backward graph and propagates the adjoint of the state
    (``torch.autograd.grad`` with ``grad_outputs``). Memory: steps x parameters + one step's graph."""

    @staticmethod
    def forward(ctx, run, *meta_params):
        ctx.run = run
        return run["proxy"].detach().clone(), run["extra"].detach().clone()

    @staticmethod
    def backward(ctx, g_proxy, g_extra):
        run = ctx.run
        meta = run["meta_params"]
        n_par, k_run = run["n_params"], len(run["states"])
        adj = None
        meta_grads = [torch.zeros_like(m) for m in meta]
        with torch.enable_grad():
            for k in reversed(range(k_run)):
                state = run["states"][k]
                inputs = [t.detach().requires_grad_() for t in state[:n_par]]
                out = run["step"](run["batches"][k], *inputs, *state[n_par:])
                agree, extra = out[0], out[1]
                new_params = out[4:4 + n_par]
                objective = (g_proxy * agree + g_extra * extra) / k_run
                if adj is not None:
                    objective = objective + sum((a * q).sum() for a, q in zip(adj, new_params))
                wrt = inputs + [m for m in meta if m.requires_grad]
                grads = torch.autograd.grad(objective, wrt, allow_unused=True)
                adj = [g if g is not None else torch.zeros_like(t) for g, t in zip(grads[:n_par], inputs)]
                it = iter(grads[n_par:])
                for i, m in enumerate(meta):
                    if m.requires_grad:
                        g = next(it)
                        if g is not None:
                            meta_grads[i] += g
        ctx.run = None
        return (None, *meta_grads)


def proxy_agreement(nets: Sequence[FunctionalNet], batches: Sequence[torch.Tensor],
                    target_fn: Callable, lr: float, *, early_stop_agreement: float = 2.0,
                    early_stop_patience: int = 3, early_stop_min_steps: int = 0,
                    checkpoint: bool = False, meta_params=None,
                    create_graph: bool = True, step_callback: Callable | None = None) -> ProxyASResult:
    """Algorithm 1: train two networks on ``target_fn``'s soft labels, batch after batch, and
    accumulate their agreement on each batch before the update on it.

    ``batches``: a sequence of input tensors (B,...) (one per inner step; its length is the step
    budget). ``target_fn(x) -> (probs (B,K), extra scalar)``: the task's soft labels and an extra
    loss averaged over the steps (the discovery encoder's uniformity loss; return a zero tensor if
    none); it may depend on parameters we differentiate w.r.t. ``step_callback(k, logits1,
    logits2, states)`` is called after every step with the networks' current
    ``[(params, buffers), ...]``, e.g. to record AS over inner steps (Fig. 16).
    ``create_graph=False`` gives the same forward numbers without a meta-graph (evaluation).
    ``checkpoint=True`` (needs ``meta_params``, the tensors ``target_fn`` depends on) keeps no graph
    in the forward and recomputes each step in the backward (:class:`_CheckpointedUnroll`)."""
    if len(nets) != 2:
        raise ValueError(f"proxy-AS needs exactly two networks, got {len(nets)}")
    use_ck = checkpoint and create_graph and torch.is_grad_enabled()
    if use_ck and meta_params is None:
        raise ValueError("checkpoint=True needs meta_params: the tensors the targets depend on")
    net1, net2 = nets
    names1, names2 = list(net1.params), list(net2.params)
    bnames1, bnames2 = list(net1.buffers), list(net2.buffers)
    n1, n2, nb1 = len(names1), len(names2), len(bnames1)

    def step(x, *flat, graph=create_graph):
        p1 = dict(zip(names1, flat[:n1]))
        p2 = dict(zip(names2, flat[n1:n1 + n2]))
        b1 = dict(zip(bnames1, flat[n1 + n2:n1 + n2 + nb1]))
        b2 = dict(zip(bnames2, flat[n1 + n2 + nb1:]))
        probs, extra = target_fn(x)
        if not graph:
            probs, extra = probs.detach(), extra.detach()
        l1, q1, c1 = sgd_step(net1, p1, b1, x, probs, lr, graph)
        l2, q2, c2 = sgd_step(net2, p2, b2, x, probs, lr, graph)
        agree = agreement_term(l1, l2)
        if not graph:
            agree = agree.detach()
        return (agree, extra, l1.detach(), l2.detach(), *q1.values(), *q2.values(), *c1.values(), *c2.values())

    def unflatten(flat):
        return [(dict(zip(names1, flat[:n1])), dict(zip(bnames1, flat[n1 + n2:n1 + n2 + nb1]))),
                (dict(zip(names2, flat[n1:n1 + n2])), dict(zip(bnames2, flat[n1 + n2 + nb1:])))]

    flat = (*net1.params.values(), *net2.params.values(), *net1.buffers.values(), *net2.buffers.values())
    total, extra_total = 0.0, 0.0
    a01s, states = [], []
    can_stop = early_stop_agreement < 1.0                 # 0-1 agreement never exceeds 1
    first_check = max(early_stop_min_steps, early_stop_patience, 1)
    k = 0
    for k, x in enumerate(batches, start=1):
        if use_ck:
            states.append(tuple(t.detach() for t in flat))
            out = step(x, *flat, graph=False)
        else:
            out = step(x, *flat)
        agree, extra, l1, l2 = out[:4]
        flat = out[4:]
        total = total + agree
        extra_total = extra_total + extra
        a01s.append((l1.argmax(1) == l2.argmax(1)).float().mean())     # stays on the device
        if step_callback is not None:
            step_callback(k, l1, l2, unflatten(flat))
        if can_stop and k >= first_check and \
                bool((torch.stack(a01s[-early_stop_patience:]) > early_stop_agreement).all()):
            break
    agreement01 = torch.stack(a01s).tolist() if a01s else []    # one host sync per unroll
    proxy, extra_mean = total / max(k, 1), extra_total / max(k, 1)
    if use_ck:
        meta = list(meta_params)
        run = {"proxy": torch.as_tensor(proxy), "extra": torch.as_tensor(extra_mean), "states": states,
               "batches": list(batches)[:k], "step": step, "n_params": n1 + n2, "meta_params": meta}
        proxy, extra_mean = _CheckpointedUnroll.apply(run, *meta)
    return ProxyASResult(proxy_as=proxy, extra=extra_mean,
                         agreement01=agreement01, steps=k, nets=unflatten(flat))
