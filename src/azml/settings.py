"""Settings from the environment and ``.env``, and the secret-redaction rules.

``.env`` is read with python-dotenv without overriding variables already set in
the process environment, and without changing ``os.environ``: step processes get
exactly the environment AzureML would give them, not the orchestrator's secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from azml.config.model import ComputeSpec
from azml.errors import ConfigError, ConfigProblem

#: A GPU size Azure offers today (NCasT4_v3: 4 vCPU, 1 NVIDIA T4). The original
#: default, Standard_NC6, was retired in 2023.
DEFAULT_VM_SIZE = "Standard_NC4as_T4_v3"
#: ``_PWD`` (``DB_PWD``), not ``PWD``: the shell's ``PWD``/``OLDPWD`` hold folders.
SECRET_SUFFIXES = ("KEY", "SECRET", "PASSWORD", "TOKEN", "_PWD", "CONNECTION_STRING",
                   "CONNECTIONSTRING", "SAS_URL", "CREDENTIAL", "CREDENTIALS")
REDACTED = "***"
#: Secrets recognised by their shape wherever they appear: the value part of Azure
#: connection-string fields (``AccountKey=...;``, ``SharedAccessSignature=...``, ...),
#: the signature of a SAS URL or token (``sig=...``) and a bearer token.
SECRET_PATTERNS = re.compile(
    r"(?i)(\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|Secret)"
    r"\s*=\s*|(?:[?&]|\b)sig=|\bBearer\s+)([^;\s\"'&]+)")

#: Every variable azml reads, with its meaning (also documented in .env.example).
KNOWN_VARIABLES = (
    "BLOB_ACCOUNT_NAME",
    "BLOB_CONTAINER_NAME",
    "BLOB_ACCOUNT_KEY",
    "BLOB_SAS_TOKEN",
    "BLOB_ACCOUNT_URL",
    "BLOB_SUB_ID",
    "AML_COMPUTE_CLUSTER_NAME",
    "AML_COMPUTE_CLUSTER_MIN_NODES",
    "AML_COMPUTE_CLUSTER_MAX_NODES",
    "AML_COMPUTE_CLUSTER_SKU",
    "AML_COMPUTE_CLUSTER_PRIORITY",
    "AZML_HOME",
    "AZML_DATASTORE_ROOT",
    "AZML_ENVS",
    "AZML_PASS_ENV",
    "AZML_STEP_SECRETS",
    "AZML_TRACKING",
    "AZML_TRACKING_IDLE",
    "AZML_MAX_LOCAL_RANKS",
    "AZML_AUTH",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
)


def redact_patterns(text: str) -> str:
    """``text`` with the value part of every :data:`SECRET_PATTERNS` match replaced."""
    if "=" not in text and "earer" not in text:
        return text  # every pattern needs one of them: most lines are left at once
    return SECRET_PATTERNS.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def is_secret(name: str) -> bool:
    """True for variables whose values must never be shown."""
    return name.upper().endswith(SECRET_SUFFIXES)


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``values`` holds every variable seen (env over .env)."""

    values: Mapping[str, str] = field(repr=False)
    env_file: Path | None
    base_dir: Path
    min_nodes: int | None
    max_nodes: int | None

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else default

    @property
    def vm_size(self) -> str:
        return self.get("AML_COMPUTE_CLUSTER_SKU") or DEFAULT_VM_SIZE

    @property
    def cluster_name(self) -> str | None:
        return self.get("AML_COMPUTE_CLUSTER_NAME")

    @property
    def azml_home(self) -> Path:
        return _resolve(self.get("AZML_HOME") or ".azml", self.base_dir)

    @property
    def envs_root(self) -> Path:
        """Where step environments are kept: ``AZML_ENVS``, else azml's user cache.

        Environments are named by their content, so every project on the machine
        can share one (as uv and pip share their caches); the parent folder holds
        the ``envs/`` folder.
        """
        raw = self.get("AZML_ENVS")
        if raw:
            return _resolve(raw, self.base_dir)
        cache = self.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(cache) / "azml"

    @property
    def datastore_root(self) -> Path:
        raw = self.get("AZML_DATASTORE_ROOT")
        return _resolve(raw, self.base_dir) if raw else self.azml_home / "datastores"

    def compute_defaults(self) -> ComputeSpec:
        return ComputeSpec(
            vm_size=self.vm_size,
            min_nodes=self.min_nodes,
            max_nodes=self.max_nodes,
            priority=self.get("AML_COMPUTE_CLUSTER_PRIORITY") or "dedicated",
            cluster_name=self.cluster_name,
        )

    def secret_values(self) -> list[str]:
        return [v for k, v in self.values.items() if is_secret(k) and v]

    @cached_property
    def _secrets_longest_first(self) -> tuple[str, ...]:
        return tuple(sorted((v for v in self.secret_values() if len(v) >= 4), key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``.

        Secrets are the values of secret-named variables (environment and
        ``.env``), and whatever has the shape of one (:data:`SECRET_PATTERNS`).
        """
        for secret in self._secrets_longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact_patterns(text)

    def __repr__(self) -> str:
        shown = {k: (REDACTED if is_secret(k) else v) for k, v in self.values.items()
                 if k in KNOWN_VARIABLES}
        return f"Settings(env_file={self.env_file}, values={shown})"


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Settings:
    """Read ``.env`` (or ``env_file``) under the process environment.

    Numbers are checked: a bad one raises ConfigError naming the file and variable.
    """
    base = (base_dir or Path.cwd()).resolve()
    env = dict(os.environ if environ is None else environ)
    path = _find_env_file(env_file, base)
    file_values: dict[str, str] = {}
    if path is not None:
        file_values = _read_env_file(path)
    values = {**file_values, **env}
    problems: list[ConfigProblem] = []
    origin = {k: (str(path) if k in file_values and k not in env else "environment")
              for k in values}
    min_nodes = _int_setting(values, "AML_COMPUTE_CLUSTER_MIN_NODES", 0, origin, problems)
    max_nodes = _int_setting(values, "AML_COMPUTE_CLUSTER_MAX_NODES", 1, origin, problems)
    if min_nodes is not None and max_nodes is not None and min_nodes > max_nodes:
        problems.append(ConfigProblem(
            origin["AML_COMPUTE_CLUSTER_MAX_NODES"], "AML_COMPUTE_CLUSTER_MAX_NODES",
            f"expected at least AML_COMPUTE_CLUSTER_MIN_NODES ({min_nodes}), got {max_nodes}"))
    priority = values.get("AML_COMPUTE_CLUSTER_PRIORITY")
    if priority and priority.lower() not in ("dedicated", "lowpriority"):
        problems.append(ConfigProblem(
            origin["AML_COMPUTE_CLUSTER_PRIORITY"], "AML_COMPUTE_CLUSTER_PRIORITY",
            f"expected 'dedicated' or 'lowpriority', got {priority!r}"))
    if problems:
        raise ConfigError(problems)
    return Settings(values=values, env_file=path, base_dir=base,
                    min_nodes=min_nodes, max_nodes=max_nodes)


def _find_env_file(env_file: str | os.PathLike[str] | None, base: Path) -> Path | None:
    if env_file is not None:
        path = _resolve(str(env_file), base)
        if not path.is_file():
            raise ConfigError.single(path, "", "settings file not found")
        return path
    candidate = base / ".env"
    return candidate if candidate.is_file() else None


def _read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    try:
        raw = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.single(path, "", f"cannot read settings file ({exc.__class__.__name__})") from None
    return {k: v for k, v in raw.items() if v is not None}


def _int_setting(
    values: Mapping[str, str],
    name: str,
    minimum: int,
    origin: Mapping[str, str],
    problems: list[ConfigProblem],
) -> int | None:
    raw = values.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        number = int(raw.strip())
    except ValueError:
        problems.append(ConfigProblem(origin[name], name, f"expected a whole number, got {raw!r}"))
        return None
    if number < minimum:
        problems.append(ConfigProblem(origin[name], name, f"expected a whole number >= {minimum}, got {number}"))
        return None
    return number


def _resolve(raw: str, base: Path) -> Path:
    path = Path(os.path.expanduser(raw))
    return (path if path.is_absolute() else base / path).resolve()
