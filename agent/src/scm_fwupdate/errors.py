"""Error types; each maps to a documented exit code of the CLI.

The one source of the exit codes: the CLI's help and docs/agent.md's table
come from here (a test compares the table).
"""


class AgentError(Exception):
    """Base: a clear one-line message for the user."""

    exit_code = 1
    summary = "error/usage"
    summary = "error/usage"


class ConfigError(AgentError):
    """The configuration file is broken."""

    exit_code = 2
    summary = "config"


class BundleError(AgentError):
    """Malformed, truncated or unsafe bundle."""

    exit_code = 3
    summary = "bundle"


class SignatureError(BundleError):
    """Unsigned bundle, wrong key, tampered manifest."""

    exit_code = 4
    summary = "signature"


class PolicyError(AgentError):
    """Incompatible board, downgrade, image larger than its partition."""

    exit_code = 5
    summary = "policy"


class DeviceError(AgentError):
    """Missing device, wrong geometry, read-only device."""

    exit_code = 6
    summary = "device"


class GptError(AgentError):
    """No valid partition table, or a table with mistakes."""

    exit_code = 7
    summary = "GPT"


class JournalError(AgentError):
    """The journal cannot be used, or resume gave up."""

    exit_code = 8
    summary = "journal (run 'resume')"


class JournalDamagedError(JournalError):
    """The journal of a committed update is damaged: it cannot be finished from it."""

    exit_code = 13
    summary = "journal damaged (inspect, 'resume --set-aside')"


class LockError(AgentError):
    """Another instance is running."""

    exit_code = 9
    summary = "another instance running"


class VerifyError(AgentError):
    """Read-back or hash mismatch."""

    exit_code = 10
    summary = "verify"


class BootError(AgentError):
    """The boot selection backend failed."""

    exit_code = 11
    summary = "boot backend"


class ImageError(AgentError):
    """A boot image fails the boot chain's checks (ELF, hash segment, digests, release)."""

    exit_code = 12
    summary = "boot image refused"


class CapsuleError(AgentError):
    """A UEFI capsule update is staged: the agent does not write beside it."""

    exit_code = 14
    summary = "capsule staged"


class Interrupted(AgentError):
    """Ctrl-C or SIGTERM: stopped between two blocks, resumable."""

    exit_code = 130
    summary = "interrupted (run 'resume')"


def exit_codes() -> list[tuple[int, str, str]]:
    """(exit code, class name, summary) of every error class, by code."""
    seen: dict[int, type[AgentError]] = {}
    todo: list[type[AgentError]] = [AgentError]
    while todo:
        cls = todo.pop()
        seen.setdefault(cls.exit_code, cls)
        todo += cls.__subclasses__()
    return [(code, c.__name__, c.summary) for code, c in sorted(seen.items())]
