"""upgan: uncertainty-guided progressive GANs for medical image translation."""

__version__ = "0.1.0"
