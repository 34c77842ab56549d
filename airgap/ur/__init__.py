"""Pure codecs for Blockchain Commons UR: bytes or text in, values out, no I/O."""
