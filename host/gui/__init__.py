"""``host gui``: the operator's window over what the host commands already do.

Three screens (the vaults and pending requests, a request's animated QR, and
scanning the stations' answers) and two buttons (finalize, verify). Every
judgement is the command line's own code (``host.gui.actions``), so the window
can never accept what ``host collect`` would reject, nor word it differently.
Nothing here imports Qt at import time: the parser registers ``gui`` for every
``host`` command, and only ``host gui`` itself needs a display.
"""
