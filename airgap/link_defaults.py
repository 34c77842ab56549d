"""Link defaults, chosen by measurement on the camera simulator (scripts/bench_link.py).

The sweep in docs/benchmarks.md varies fragment size and display rate for a
10 KB message on both camera profiles. What it shows:

- Throughput grows with fragment size until the symbol is too dense for the
  camera: the 480p appliance camera decodes version 29 (1200-byte fragments)
  but not version 33 (1500 bytes), where it drops to 0%; the 720p webcam still
  reads version 36.
- A station must read whatever a host shows it, so the default stays a step
  below the 480p cliff: 1000-byte fragments (version 27), not 1200, to leave
  margin for a camera worse than the simulated one.
- 10 frames a second: 15 fps measured faster on the simulator, but only with
  a 30 fps camera; webcams drop to 15 fps in poor light, and then every
  display frame would be captured mid-change. 10 fps keeps two clean
  exposures per frame even so.

When the receiver is known to be a 720p-class webcam (the host reading a
station's answer, or host to host), ``WEBCAM_MAX_FRAGMENT`` applies: 1500-byte
fragments (version 33) give over 10 KB/s on the 720p profile at 10 fps, which
the 480p camera cannot read at all.
"""

from __future__ import annotations

#: Bytes of message per QR frame.
DEFAULT_MAX_FRAGMENT = 1000
#: Bytes per frame when the receiving camera is a 720p-class webcam.
WEBCAM_MAX_FRAGMENT = 1500
#: Display frames per second.
DEFAULT_FPS = 10.0
#: An animation holds this many times the fixed-rate parts: the pure parts,
#: then fountain parts, so a camera that missed some frames on one loop
#: catches up from mixed parts instead of waiting for the same frames again.
DEFAULT_ANIMATION_PASSES = 3
#: Screen pixels per QR module when rendering to files and windows.
DEFAULT_MODULE_PX = 4
