"""Step 5, the re-fit: a balanced logistic regression, or a fit through the meters (SLSQP on all latents, or
Adam on minibatches) that moves the target and holds the other attributes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from latentnav.correction.config import OPTIMIZERS
from latentnav.correction.objective import held_weights, refit_terms
from latentnav.correction.steps import joint_density
from latentnav.errors import BadInputError, LatentnavError
from latentnav.evaluate import read_latents
from latentnav.measure import MeterSpec


# ------------------------------------------------------------------------------------------ 5. re-fit
def refit(z: torch.Tensor, scores: np.ndarray, *, max_weight: float = 20.0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """A's direction from a balanced logistic regression (A above / below its median) on latents ``z``, each
    sample weighted by the inverse of the joint density of its readings (capped at ``max_weight`` x the median
    weight), so the classes are balanced and B no longer predicts A. Returns ``(u [D] unit, info)``."""
    a = scores[:, 0]
    label = (a > np.median(a)).astype(int)
    weight = 1.0 / np.maximum(joint_density(scores), 1e-12)
    weight = np.minimum(weight, max_weight * np.median(weight))
    weight = weight / weight.mean()
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    x = z.double().numpy()
    clf.fit(x, label, sample_weight=weight)
    u = clf.coef_[0]
    w = weight / weight.sum()
    cov = np.cov(scores.T, aweights=w)
    corr_after = float(np.max(np.abs(cov[0, 1:]) / np.sqrt(cov[0, 0] * np.diag(cov)[1:])))
    return u / np.linalg.norm(u), {"accuracy": float(clf.score(x, label)), "weighted_corr": corr_after}


def fit_on_meters(G, z: torch.Tensor, u0: torch.Tensor, meter_a: MeterSpec, meters_b: Sequence[MeterSpec], *,
                  steps: int = 150, lr: float = 0.03, batch: int | None = 128, decay: bool = True,
                  alphas: Sequence[float] = (-1.0, 1.0),
                  keep: float = 0.9, jitter: float = 0.1, reward: float = 0.05, optimizer: str = "adam",
                  start: torch.Tensor | None = None, base: np.ndarray | None = None, space: str = "z", seed: int = 0,
                  bounded: Sequence[MeterSpec] = (), margin: float = 0.15,
                  progress: bool = False, on_iterate=None) -> tuple[np.ndarray, dict]:  # fmt: skip
    """A's direction re-fitted on latents ``z`` through the meters themselves, starting from ``u0``.

    Each step draws ``batch`` of the latents, moves them by ``alphas`` along the unit direction and reads A and
    B on the images (the meters are differentiable functions of the pixels); the loss is the squared slope of
    each B's change on A's change (the leakage :func:`direction_effect` reports) plus ``jitter`` times
    sum(dB^2) / sum(dA^2) (B's changes that do not follow A's), several Bs weighed by the inverse of their
    variances over ``z`` relative to each other (one B: weight 1), plus a penalty when A's change per unit step
    falls below ``keep`` of ``u0``'s on the same latents, minus ``reward`` times A's change over ``u0``'s (so that
    components that change nothing are dropped rather than kept). A ``start`` that keeps less than ``keep``
    (a projection, when more is asked than it has) is replaced by ``u0`` for Adam, and for SLSQP by the point
    nearest it on the arc towards ``u0`` that keeps ``keep`` (``info["started_from"]``; ``info["start_mix"]``, the weight of ``u0`` in the start: 0 for ``start``
    itself, 1 for ``u0``). Adam's
    step decays to zero on a cosine over the ``steps`` (``decay``): with a constant step the result wandered with the minibatch order (on ``bvae-dsprites-corr``, the trajectory
    direction at keep 0.6 leaked 0.011 to 0.061 over three seeds; with the decay 0.021 to 0.032);
    ``batch=None`` uses every latent at every step. ``optimizer="slsqp"`` instead minimises the leakage term
    alone, on one fixed draw of ``batch`` latents (all of them with ``batch=None``), with scipy's SLSQP (at
    most ``steps`` iterations; ``info["stopped"]`` says whether it converged or reached that limit, and whether
    the best feasible point it evaluated was kept instead of a worse last one) subject
    to A's change per unit step >= ``keep`` of ``u0``'s (no reward: a direction that keeps more than asked is
    left as it is). The fit starts from ``start`` (default ``u0``);
    ``base`` [N, 1 + K] are the readings at ``z`` when already known (saves rendering them again).
    ``on_iterate``: called with each SLSQP iterate as a unit direction (``benchmarks/slsqp_iterations.py``
    measures them). ``bounded``: further meters whose change per unit of A's must stay within ``u0``'s (on the
    same latents) plus ``margin`` in absolute value (SLSQP: constraints; Adam: a penalty), so that holding B does
    not push the change into them; ``base`` then has their readings too, after B's (``info["bounds"]``: each
    one's bound and its change per unit A before and after). Returns ``(u [D] unit, info)``.

    Raises:
        LatentnavError: a meter whose readings carry no gradient (a user scorer that leaves torch), or a fit that
            diverged (a direction that is no longer finite).
        ValueError: an unknown ``optimizer``.
    """
    if optimizer not in OPTIMIZERS:
        raise BadInputError(f"unknown re-fit optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    meters, nb = [meter_a, *meters_b, *bounded], len(meters_b)
    al = torch.tensor([float(a) for a in alphas])
    if base is None:
        base = read_latents(G, z, space, meters).T
    base = torch.as_tensor(base, dtype=torch.float32)
    ok = torch.isfinite(base).all(dim=1)
    z, base = z[ok].float(), base[ok]
    weight, slopes = held_weights(base[:, : 1 + nb]), {}

    def effect(u: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        on_target, slope, spread = refit_terms(G, u, meters, z[rows], base[rows], al, space=space)
        slopes["last"] = slope[nb:]
        return on_target, (weight * slope[:nb] ** 2).sum() + jitter * (weight * spread[:nb]).sum()

    with torch.no_grad():
        on_base, leak_base = effect((u0 / u0.norm()).float(), torch.arange(len(z)))
        bound = slopes["last"].abs() + margin  # [len(bounded)]
        before = slopes["last"].clone()
    v, started, mix = _start_point(effect, len(z), u0, start, on_base, keep, optimizer)
    v.requires_grad_(True)
    _check_gradients(G, z, v, meters, space)
    gen = torch.Generator().manual_seed(seed)
    iterations, stopped = steps, "steps"
    if optimizer == "slsqp" and steps:
        rows = torch.randperm(len(z), generator=gen)[:batch] if batch else torch.arange(len(z))
        v, iterations, stopped = _slsqp(effect, v.detach(), rows, on_base, keep, steps, progress, on_iterate,
                                        bounds=(slopes, bound))  # fmt: skip
        steps = 0
    _adam(effect, v, len(z), on_base, steps=steps, lr=lr, batch=batch, decay=decay, keep=keep, reward=reward, gen=gen,
          progress=progress, bounds=(slopes, bound))  # fmt: skip
    u = _finite((v / v.norm()).detach(), optimizer)
    with torch.no_grad():
        on_after, leak_after = effect(u, torch.arange(len(z)))
    info = {"latents": len(z), "optimizer": optimizer, "iterations": iterations, "stopped": stopped, "keep": keep,
            "started_from": started, "start_mix": mix,
            "on_target_before": float(on_base), "on_target_after": float(on_after),
            "leak_ratio_before": float(leak_base), "leak_ratio_after": float(leak_after)}  # fmt: skip
    info.update(_bounds_info(bounded, bound, before, slopes["last"]))
    return u.double().numpy(), info


def _finite(u: torch.Tensor, optimizer: str) -> torch.Tensor:
    """``u``, or a one-line error when the re-fit diverged (the direction is no longer finite)."""
    if not torch.isfinite(u).all():
        raise LatentnavError(f"the meter re-fit ({optimizer}) diverged: the direction is no longer finite; try "
                             f"--fit-optimizer {'adam' if optimizer == 'slsqp' else 'slsqp'} or --refit logistic")  # fmt: skip
    return u


def _bounds_info(bounded: Sequence[MeterSpec], bound, before, after) -> dict:
    """``{"bounds": {meter: {bound, before, after}}}`` for the meters held within a bound (nothing without any)."""
    if not bounded:
        return {}
    return {"bounds": {m.name: {"bound": float(bound[k]), "before": float(before[k]), "after": float(after[k])}
                       for k, m in enumerate(bounded)}}  # fmt: skip


def _start_point(effect, n: int, u0: torch.Tensor, start, on_base, keep: float, optimizer: str):
    """Where the re-fit starts: ``start`` (default ``u0``), or, when it keeps less than ``keep``, the nearest point of
    the arc towards ``u0`` that does (SLSQP) or ``u0`` itself (Adam). Returns ``(v, started_from, start_mix)``."""
    v = (start if start is not None else u0).float().clone()
    v = v / v.norm()
    with torch.no_grad():  # without a start, v is u0, which keeps all of itself: no pass to render
        on_start = effect(v, torch.arange(n))[0] if start is not None else on_base
    if float(on_start / on_base) >= keep:
        return v, "start", 0.0
    if optimizer == "slsqp" and keep <= 1.0:
        v, mix = _feasible_start(lambda w: effect(w, torch.arange(n))[0] / on_base, v, u0, keep)
        return v, "arc", mix
    return (u0 / u0.norm()).float().clone(), "base", 1.0


def _check_gradients(G, z: torch.Tensor, v: torch.Tensor, meters, space: str) -> None:
    """Refuse meters whose readings carry no gradient (a user scorer that leaves torch): nothing to fit through."""
    probe = G((z[:2] + v[None]).to(G.device).view(-1, *G.latent_shape(space)), space=space).cpu()
    flat = [m.name for m in meters if not m(probe).requires_grad]
    if flat:
        raise LatentnavError(f"the readings of {', '.join(flat)} carry no gradient (a scorer that leaves torch?), so "
                             "the direction cannot be fitted through them; use the logistic re-fit (--refit logistic)")  # fmt: skip


def _adam(effect, v: torch.Tensor, n: int, on_base, *, steps: int, lr: float, batch: int | None, decay: bool, keep: float,
          reward: float, gen: torch.Generator, progress: bool, bounds=None) -> None:  # fmt: skip
    """Adam's re-fit of ``v`` in place: leakage, a penalty below ``keep`` and beyond the ``bounds``
    (``(slopes, bound)``: the bounded meters' last slopes and their limits), a small reward for A's change."""
    opt = torch.optim.Adam([v], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1)) if decay else None
    for _ in tqdm(range(steps), disable=not progress or not steps, desc="re-fitting on the meters", unit="step"):
        rows = torch.randperm(n, generator=gen)[:batch] if batch else torch.arange(n)
        on_target, leak = effect(v / v.norm(), rows)
        gain = on_target / on_base
        loss = leak + 10.0 * torch.relu(keep - gain) ** 2 - reward * gain
        if bounds is not None and len(bounds[1]):
            loss = loss + 10.0 * (torch.relu(bounds[0]["last"].abs() - bounds[1]) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def _feasible_start(share, start: torch.Tensor, u0: torch.Tensor, keep: float, halvings: int = 6) -> tuple[torch.Tensor, float]:
    """The unit direction nearest ``start`` on the arc from ``start`` to ``u0`` whose ``share`` (A's change per
    unit step over ``u0``'s) is at least ``keep``, by bisection on the mixing weight t of (1 - t) start + t u0
    (``u0`` itself, t = 1, keeps everything). SLSQP started there is feasible and close to its answer: started
    from ``u0`` with the keep constraint active, it ran for more than an hour on one core (2,400 dSprites
    latents, InterFaceGAN's direction at keep 0.8, iteration limit 150) without finishing; from here it
    took 7 iterations (GANSpace's direction took 96 of a limit of 150). Returns ``(unit direction, t)``."""
    start, u0 = start / start.norm(), (u0 / u0.norm()).float()
    lo, hi = 0.0, 1.0
    with torch.no_grad():
        for _ in range(halvings):
            mid = (lo + hi) / 2
            w = (1 - mid) * start + mid * u0
            if float(share(w / w.norm())) >= keep:
                hi = mid
            else:
                lo = mid
    w = (1 - hi) * start + hi * u0
    return (w / w.norm()).clone(), hi


def _slsqp(effect, v: torch.Tensor, rows: torch.Tensor, on_base: torch.Tensor, keep: float, steps: int,
           progress: bool, on_iterate=None, bounds=None) -> tuple[torch.Tensor, int, str]:  # fmt: skip
    """:func:`fit_on_meters`'s ``optimizer="slsqp"``: the leakage term on the fixed latents ``rows``, minimised
    by scipy's SLSQP over the direction subject to A's change per unit step >= ``keep`` of ``u0``'s.
    Each point is rendered once; the backward passes run only where SLSQP asks for the gradient (its line
    search needs values alone). Returns the unit direction, the iterations taken and why it stopped
    (``"converged"``, ``"iteration limit"`` or scipy's message). ``bounds``: ``(slopes, bound)``, each bounded
    meter's change per unit A kept within its bound (one constraint each: bound^2 - slope^2 >= 0)."""
    slopes, bound = bounds if bounds is not None else ({}, torch.empty(0))
    at: dict = {"key": None}

    def forward(x: np.ndarray) -> dict:
        if at["key"] != x.tobytes():
            w = torch.tensor(x, dtype=torch.float32, requires_grad=True)
            on_target, leak = effect(w / w.norm(), rows)
            room = bound**2 - slopes["last"] ** 2 if len(bound) else None
            at.update(key=x.tobytes(), w=w, on_target=on_target, leak=leak, room=room, grads=None)
        return at

    best: dict = {"leak": math.inf, "x": None}  # the least leaking feasible point SLSQP has evaluated

    def value(x: np.ndarray) -> tuple[float, float, np.ndarray]:
        f = forward(x)
        room = f["room"].detach().double().numpy() if f["room"] is not None else np.empty(0)
        leak, share = float(f["leak"].detach()), float(f["on_target"].detach() / on_base) - keep
        if share >= 0 and (room >= 0).all() and leak < best["leak"]:
            best.update(leak=leak, x=x.copy())
        return leak, share, room

    def grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = forward(x)
        if f["grads"] is None:
            g_leak, g_on = (torch.autograd.grad(q, f["w"], retain_graph=True)[0].double().numpy()
                            for q in (f["leak"], f["on_target"]))  # fmt: skip
            g_room = np.stack([torch.autograd.grad(f["room"][k], f["w"], retain_graph=True)[0].double().numpy()
                               for k in range(len(bound))]) if len(bound) else np.empty((0, len(x)))  # fmt: skip
            f["grads"] = (g_leak, g_on / float(on_base), g_room)
        return f["grads"]

    bar = tqdm(total=steps, disable=not progress, desc="re-fitting on the meters (SLSQP)", unit="iteration")

    def iterated(x: np.ndarray) -> None:
        bar.update()
        if on_iterate is not None:
            on_iterate(x / np.linalg.norm(x))

    res = minimize(lambda x: value(x)[0], v.double().numpy(), jac=lambda x: grad(x)[0], method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda x: value(x)[1], "jac": lambda x: grad(x)[1]},
                                *([{"type": "ineq", "fun": lambda x: value(x)[2], "jac": lambda x: grad(x)[2]}]
                                  if len(bound) else [])],
                   options={"maxiter": max(steps, 1)}, callback=iterated)  # fmt: skip
    bar.close()
    stopped = {0: "converged", 9: "iteration limit"}.get(int(res.status), str(res.message))
    if np.isfinite(res.x).all():
        value(res.x)  # the last point counts among those evaluated
    # SLSQP can stop (at its limit, or failing) on a point that breaks a constraint or leaks more than one it has
    # passed: the re-fit returns the least leaking feasible point it evaluated (never worse than a feasible start)
    x = res.x if best["x"] is None else best["x"]
    if not np.array_equal(x, res.x):
        stopped = f"{stopped}; its best feasible point kept"
    return torch.tensor(x / np.linalg.norm(x), dtype=torch.float32).requires_grad_(True), int(res.nit), stopped
