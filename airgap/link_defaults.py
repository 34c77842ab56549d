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
#: Screen pixels per QR module when rendering to files and windows.
DEFAULT_MODULE_PX = 4
