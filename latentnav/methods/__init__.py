"""Direction sources besides the trajectory method: GANSpace, SeFa and InterFaceGAN.

Every method returns :class:`~latentnav.directions.Direction` objects (method recorded in ``method`` and
its settings in ``meta``), so their files load, traverse and evaluate like the trajectory method's.
GANSpace and SeFa find unsupervised, uncalibrated directions (raw ``alpha`` steps, sign arbitrary);
InterFaceGAN needs attribute scores. :func:`latentnav.evaluate.calibrate_direction` gives any of them
a calibration g in an attribute's units.

- :mod:`latentnav.methods.ganspace`: PCA of sampled latents or of an intermediate feature (Harkonen et al. 2020)
- :mod:`latentnav.methods.sefa`: eigenvectors of A^T A for the weight A that first acts on the latent (Shen & Zhou 2021)
- :mod:`latentnav.methods.interfacegan`: a linear SVM on attribute scores, conditional projections (Shen et al. 2020)
- :mod:`latentnav.methods.layers`: where each generator family's latent meets its first layer
"""

from __future__ import annotations

#: Every way ``latentnav discover --method`` can find a direction.
METHODS: tuple[str, ...] = ("trajectory", "ganspace", "sefa", "interfacegan")
