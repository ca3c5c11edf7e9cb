"""The trajectory method (Plumerault et al., ICLR 2020): follow an image transform through the generator in small
steps, then fit one direction u and its calibration g.

- :mod:`~latentnav.methods.trajectory.optimizer`: the stepwise optimiser (settings in ``TrajectoryConfig``).
- :mod:`~latentnav.methods.trajectory.calibration`: u and g from the trajectory rows, and the label-free read-back.
- :mod:`~latentnav.methods.trajectory.discover`: ``discover``, the API behind ``latentnav discover``.
"""
