"""Reading images: the meters (an attribute from pixels), the transforms T_t, and the losses that compare images.

- :mod:`latentnav.measure.meters`: centroid, scale, brightness, hue, ... and the meter registry (:func:`get_meter`,
  user scorers as ``module:function``); its names are also importable from ``latentnav.measure`` itself.
- :mod:`latentnav.measure.transforms`: differentiable image transforms with validity masks, and their registry.
- :mod:`latentnav.measure.losses`: the Fourier-weighted texture loss and the masked MSE.
"""

from latentnav.measure.meters import *  # noqa: F403 - the meters are this package's namespace
from latentnav.measure.meters import __all__ as __all__
