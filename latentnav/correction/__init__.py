"""Correcting a direction that drags a correlated attribute along (SC2GAN-style), in five steps.

1. score latents with the meters (:mod:`~latentnav.correction.steps`);
2. choose low-density targets: where the attributes rarely go together;
3. synthesize them, moving the target and holding the rest (or W+ layer mixing);
4. invert them back into the latent space and keep those that landed;
5. re-fit the direction on everything (:mod:`~latentnav.correction.fit`, objective in
   :mod:`~latentnav.correction.objective`).

:func:`~latentnav.correction.correct.correct` runs them in order with a
:class:`~latentnav.correction.config.CorrectConfig`.
"""
