"""The noise process of the diffusion generator: a cosine DDPM schedule and DDIM steps (deterministic or with noise)."""

from __future__ import annotations

import math

import torch


class NoiseSchedule:
    """A DDPM noise process of ``steps`` steps with the cosine schedule of Nichol and Dhariwal (2021).

    Parameters
    ----------
    steps
        Number of diffusion steps T.
    """

    def __init__(self, steps: int) -> None:
        self.steps = int(steps)
        s = 0.008
        grid = torch.arange(self.steps + 1, dtype=torch.float64) / self.steps
        f = torch.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
        betas = torch.clamp(1 - f[1:] / f[:-1], max=0.999)
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0).to(torch.float32)

    def add_noise(self, clean: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Return ``sqrt(a_t) clean + sqrt(1 - a_t) noise`` (the forward process at each sample's step)."""
        a = self.alphas_cumprod.to(clean.device)[timesteps].view(-1, *([1] * (clean.dim() - 1)))
        return a.sqrt() * clean + (1 - a).sqrt() * noise

    def sampling_timesteps(self, n: int) -> list[int]:
        """Return ``n`` decreasing steps from T-1 to 0, evenly spaced (the DDIM sub-sequence)."""
        return sorted({round(x) for x in torch.linspace(0, self.steps - 1, n).tolist()}, reverse=True)

    def ddim_step(
        self,
        sample: torch.Tensor,
        noise_pred: torch.Tensor,
        t: int,
        t_prev: int,
        bounds: tuple[torch.Tensor, ...],
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Return the sample at step ``t_prev`` (-1: the clean estimate) from the one at ``t`` (DDIM).

        The clean-sample estimate is clipped to ``bounds`` (low, high; broadcast against the sample), as diffusers'
        ``clip_sample``: the data's own range. ``eta`` scales the fresh noise of the step (Song et al. 2021: 0 is
        deterministic DDIM, 1 the DDPM posterior's variance), drawn from ``generator``; the last step adds none.
        """
        a = self.alphas_cumprod[t].item()
        a_prev = self.alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
        clean = torch.clamp((sample - math.sqrt(1 - a) * noise_pred) / math.sqrt(a), *bounds)
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev)) if t_prev >= 0 else 0.0
        out = math.sqrt(a_prev) * clean + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * noise_pred
        if sigma > 0:
            out = out + sigma * torch.randn(sample.shape, generator=generator, device=sample.device)
        return out
