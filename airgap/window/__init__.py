"""Qt pieces both windows share: the application, screenshots, an animated QR, a camera preview.

The station's window (``appliance.window``) and the host's (``host.gui``)
never import each other; what they have in common is the link, so it lives here.
"""
