"""OsteoCare: decision support for an osteoporosis service."""

__version__ = "0.1.0"
