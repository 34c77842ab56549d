"""Link defaults, chosen by measurement on the camera simulator (scripts/bench_link.py).

See docs/benchmarks.md for the sweep behind these numbers. In short: throughput
grows with fragment size until the symbol gets too dense for the camera to
resolve, at which point frames stop decoding and throughput collapses. The
default sits below that cliff on the weaker (480p appliance) camera, because a
station must read what any host shows it; hosts with good webcams can raise it.
"""

from __future__ import annotations

#: Bytes of message per QR frame.
DEFAULT_MAX_FRAGMENT = 800
#: Display frames per second.
DEFAULT_FPS = 8.0
#: An animation holds this many times the fixed-rate parts: the pure parts,
#: then fountain parts, so a camera that missed some frames on one loop
#: catches up from mixed parts instead of waiting for the same frames again.
DEFAULT_ANIMATION_PASSES = 3
#: Screen pixels per QR module when rendering to files and windows.
DEFAULT_MODULE_PX = 4
