"""scm-fwupdate: power-fail-safe boot firmware updates on a TrustZone-owned SPI-NOR."""

__version__ = "0.1.0"
