"""The ground-truth testbed: procedural dSprites with known factors, the reports of the models trained on it,
and the oracle direction a VAE allows.

- :mod:`latentnav.testbed.dsprites`: the renderer and samplers (uniform or correlated factors, colour).
- :mod:`latentnav.testbed.report`: quality figures of a trained model (factor axes, information, realism).
- :mod:`latentnav.testbed.oracle`: a VAE's best single latent axis for a factor, calibrated.
"""
