"""Time series: the same plants photographed over days, each leaf followed
from date to date under one id.

The modules, in the order ``leafcount track`` uses them: :mod:`.naming`
(which plant and time each image is), :mod:`.sources` (saved corrections or
the model's labels), :mod:`.frames` (one plant of one image), :mod:`.align`
and :mod:`.matching` (which leaf of one date is which of the next),
:mod:`.linking` (track ids along a plant's dates), :mod:`.metadata`,
:mod:`.tables` and :mod:`.growth_report` (what is written), and
:mod:`.pipeline`, which runs them.
"""
