"""The station as a full-screen window: scanning, review, cards, signing, answer, refused, error.

Only the drawing is here. The ceremony (``appliance.ceremony``) decides and
logs exactly as it does on a terminal; the window is another ``Screen``.
"""
