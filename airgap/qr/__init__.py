"""QR codes on screen and in camera frames: rendering, sinks and frame decoding."""
