"""The air-gap link both sides speak: BC-UR over animated QR codes."""

__version__ = "0.1.0"
