"""Error types; each maps to a documented exit code of the CLI."""


class AgentError(Exception):
    """Base: a clear one-line message for the user."""

    exit_code = 1


class ConfigError(AgentError):
    """The configuration file is broken."""

    exit_code = 2


class BundleError(AgentError):
    """Malformed, truncated or unsafe bundle."""

    exit_code = 3


class SignatureError(BundleError):
    """Unsigned bundle, wrong key, tampered manifest."""

    exit_code = 4


class PolicyError(AgentError):
    """Incompatible board, downgrade, image larger than its partition."""

    exit_code = 5


class DeviceError(AgentError):
    """Missing device, wrong geometry, read-only device."""

    exit_code = 6


class GptError(AgentError):
    """No valid partition table, or a table with mistakes."""

    exit_code = 7


class JournalError(AgentError):
    """The journal cannot be used, or resume gave up."""

    exit_code = 8


class JournalDamagedError(JournalError):
    """The journal of a committed update is damaged: it cannot be finished from it."""

    exit_code = 13


class LockError(AgentError):
    """Another instance is running."""

    exit_code = 9


class VerifyError(AgentError):
    """Read-back or hash mismatch."""

    exit_code = 10


class BootError(AgentError):
    """The boot selection backend failed."""

    exit_code = 11


class ImageError(AgentError):
    """A boot image fails the boot chain's checks (ELF, hash segment, digests, release)."""

    exit_code = 12
