"""auditor: finds the health claims on provider pages that an editor should check."""
__version__ = "0.1.0"
