"""The fixed seeds latentnav's measurements draw their latents from, in one place.

Each range is far from the others, so what one stage fits on is never what another measures on: discovery's
starting latents start at ``seed`` (0 by default), the traversal pictures at :data:`PICTURE_SEED`, evaluation at
:data:`EVAL_SEED`, the control check of every discovery at :data:`CONTROL_SEED`, meter calibration at
:data:`CALIB_SEED`.
"""

#: the latents every traversal picture of a run shows (traverse.png, traverse.gif, components.png)
PICTURE_SEED = 10_000
#: fresh latents that evaluate directions (``evaluate``, ``compare``, the corrector's report and grids)
EVAL_SEED = 50_000
#: fresh latents of the control check every discovery ends with
CONTROL_SEED = 70_000
#: latents that calibrate (and pick) directions by a meter
CALIB_SEED = 900_000
