"""Numbers that say how good a direction or a model is.

- :mod:`latentnav.metrics.control`: control, steerability, leakage and MI control of a direction, measured from
  pixels on fresh latents; the control check every discovery runs (:func:`~latentnav.metrics.control.measure_control`).
- :mod:`latentnav.metrics.information`: total correlation and code-information estimators (the trainers use them).
- :mod:`latentnav.metrics.disentanglement`: BetaVAE, FactorVAE, MIG, SAP, DCI and total correlation of a model
  with known factors (disentanglement_lib's definitions).
"""
