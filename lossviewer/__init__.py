"""LossViewer: a desktop application for exploring loss surfaces."""

__version__ = "0.1.0"
