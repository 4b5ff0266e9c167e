"""Which blob container a datastore is, how to sign in to it, and what its errors mean.

Datastore ``NAME`` is the one container the settings name (``BLOB_ACCOUNT_NAME`` /
``BLOB_CONTAINER_NAME``), because that is what the AzureML v1 target registers for
every datastore name it meets (``targets/azureml_v1/resources.py``): pulling from any
other container would give a local run data the cloud run never sees.

Credentials, first match wins: ``BLOB_ACCOUNT_KEY`` (shared key), ``BLOB_SAS_TOKEN``,
else ``DefaultAzureCredential`` (az login, environment service principal, managed
identity). ``BLOB_ACCOUNT_URL`` overrides ``https://<account>.blob.core.windows.net``
(Azurite, sovereign clouds, private endpoints). No message built here contains a key,
a token or a URL query; every one also passes through the settings' redaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

from azml.errors import MissingDependencyError, SettingsError, StorageError
from azml.settings import Settings

KEY, SAS, DEFAULT = "account key", "SAS token", "DefaultAzureCredential"
_ADVICE = {
    KEY: "Check BLOB_ACCOUNT_KEY (Storage account > Access keys)",
    SAS: "Check that BLOB_SAS_TOKEN is valid, not expired, and allows list and read "
         "(pull) or write (push)",
    DEFAULT: "Sign in with `az login` and make sure you hold a Storage Blob Data role on the "
             "account, or set BLOB_ACCOUNT_KEY or BLOB_SAS_TOKEN",
}


@dataclass(frozen=True)
class BlobLocation:
    """One container and how to reach it. ``url`` never carries a query string."""

    account: str
    container: str
    url: str
    auth: str  # KEY, SAS or DEFAULT

    @property
    def label(self) -> str:
        return f"{self.account}/{self.container}"


def blob_location(settings: Settings) -> BlobLocation:
    """The configured container; SettingsError naming what is missing or malformed."""
    account = settings.get("BLOB_ACCOUNT_NAME")
    container = settings.get("BLOB_CONTAINER_NAME")
    missing = [n for n, v in (("BLOB_ACCOUNT_NAME", account), ("BLOB_CONTAINER_NAME", container))
               if not v]
    if missing:
        raise SettingsError(", ".join(missing), "not set",
                            "Set it in .env (see .env.example) to pull or push data")
    assert account and container
    url = settings.get("BLOB_ACCOUNT_URL") or f"https://{account}.blob.core.windows.net"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("BLOB_ACCOUNT_URL", "expected an http(s) URL such as "
                            f"https://{account}.blob.core.windows.net", "Fix it in .env")
    if parts.query or parts.fragment:
        raise SettingsError("BLOB_ACCOUNT_URL", "has a query string (a SAS token?); it is not "
                            "shown here", "Put the token in BLOB_SAS_TOKEN and remove it from the URL")
    auth = KEY if settings.get("BLOB_ACCOUNT_KEY") else SAS if settings.get("BLOB_SAS_TOKEN") else DEFAULT
    if auth == DEFAULT and parts.scheme != "https":
        raise SettingsError("BLOB_ACCOUNT_URL", f"is {url}, but without BLOB_ACCOUNT_KEY or "
                            f"BLOB_SAS_TOKEN azml signs in with {DEFAULT}, whose tokens are only "
                            "sent over https", "Use an https URL, or set BLOB_ACCOUNT_KEY or BLOB_SAS_TOKEN")
    return BlobLocation(account, container, url.rstrip("/"), auth)


def container_client(settings: Settings, location: BlobLocation, *, workers: int,
                     credential: Any = None) -> Any:
    """A ``ContainerClient`` whose connection pool holds ``workers`` connections.

    One client is shared by all transfer threads (Azure SDK clients are thread-safe);
    requests' default pool of 10 would drop connections with more workers. ``credential``
    replaces the one from the settings (a datastore's own key or SAS).
    """
    try:
        from azure.storage.blob import ContainerClient
    except ImportError:
        raise MissingDependencyError("azure-storage-blob", "data", "Moving data to and from blob storage") from None
    import requests
    from azure.core.pipeline.transport import RequestsTransport

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(workers, 1) + 2)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # the storage SDK's own transport settings (azure/storage/blob/_shared/base_client.py):
    # 256 KiB reads instead of azure-core's 4 KiB halve the CPU of a download
    transport = RequestsTransport(session=session, session_owner=True, connection_timeout=20,
                                  read_timeout=60, connection_data_block_size=256 * 1024)
    return ContainerClient(location.url, location.container,
                           credential=credential if credential is not None else _credential(settings, location),
                           transport=transport, max_single_get_size=8 * 1024 * 1024,
                           max_chunk_get_size=4 * 1024 * 1024)


def _credential(settings: Settings, location: BlobLocation) -> Any:
    if location.auth == KEY:
        return {"account_name": location.account, "account_key": settings.get("BLOB_ACCOUNT_KEY")}
    if location.auth == SAS:
        from azure.core.credentials import AzureSasCredential

        return AzureSasCredential((settings.get("BLOB_SAS_TOKEN") or "").lstrip("?"))
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise MissingDependencyError("azure-identity", "data", "Signing in to blob storage without "
                                     "BLOB_ACCOUNT_KEY or BLOB_SAS_TOKEN") from None
    return DefaultAzureCredential()


def raise_storage_error(exc: BaseException, settings: Settings, location: BlobLocation,
                        doing: str) -> NoReturn:
    """Translate an Azure SDK exception into one StorageError line (never a credential)."""
    raise translate(exc, settings, location, doing) from None


def translate(exc: BaseException, settings: Settings, location: BlobLocation, doing: str) -> StorageError:
    """The StorageError for ``exc``, raised while ``doing`` (e.g. "listing 'raw/'")."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    code = str(getattr(exc, "error_code", "") or "")
    status = getattr(exc, "status_code", None)
    acct, cont = location.account, location.container
    if code == "ContainerNotFound":
        return StorageError(acct, cont, "the container does not exist",
                            "Check BLOB_CONTAINER_NAME, or create the container")
    if code in ("ResourceNotFound", "AccountNotFound") and not doing.startswith("reading"):
        return StorageError(acct, cont, f"the account was not found at {location.url}",
                            "Check BLOB_ACCOUNT_NAME and BLOB_ACCOUNT_URL")
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        reason = code or _first_line(exc, settings)
        return StorageError(acct, cont, f"{doing} was refused with the {location.auth} ({reason})",
                            _ADVICE[location.auth])
    if isinstance(exc, ServiceRequestError):
        return StorageError(acct, cont, f"{doing} failed: cannot reach {location.url} "
                            f"({_first_line(exc, settings)})", "Check BLOB_ACCOUNT_URL and your network")
    if isinstance(exc, HttpResponseError):
        return StorageError(acct, cont, f"{doing} failed: {code or status} "
                            f"({_first_line(exc, settings)})")
    return StorageError(acct, cont, f"{doing} failed: {exc.__class__.__name__}: "
                        f"{_first_line(exc, settings)}")


def _first_line(exc: BaseException, settings: Settings) -> str:
    text = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    return scrub(settings.redact(text))[:300]


def scrub(text: str) -> str:
    """``text`` without URL queries or SAS signatures.

    A SAS token appears in SDK messages URL-encoded and reordered, so redacting the
    configured value is not enough: every query string goes.
    """
    text = _QUERY.sub("?<query hidden>", text)
    return _SIG.sub("sig=***", text)


_QUERY = re.compile(r"\?[^\s'\"<>)]*=[^\s'\"<>)]*")
_SIG = re.compile(r"sig=[^&\s'\"<>)]+")
