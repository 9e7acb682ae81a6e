"""Which provider each processor talks to locally: the sandboxes, or the real service when real
credentials are in the environment (they are then stored as secrets, never passed as env vars)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from local.seed import ProviderSecrets

REAL_CREDENTIAL_VARIABLES = ("OPENAI_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY")


@dataclass(frozen=True)
class ProviderChoice:
    real_openai: bool
    real_twilio: bool
    real_sendgrid: bool
    secrets: ProviderSecrets

    @property
    def any_sandbox(self) -> bool:
        return not (self.real_openai and self.real_twilio and self.real_sendgrid)

    def kinds(self) -> dict[str, str]:
        """provider -> "real" or "sandbox" (what the emulator's provider secrets were made for)."""
        real = {"openai": self.real_openai, "twilio": self.real_twilio, "sendgrid": self.real_sendgrid}
        return {name: "real" if is_real else "sandbox" for name, is_real in real.items()}


def choose_providers(environ: dict[str, str] | None = None) -> ProviderChoice:
    environ = dict(os.environ if environ is None else environ)
    sandbox = ProviderSecrets()
    real_openai = bool(environ.get("OPENAI_API_KEY"))
    real_twilio = bool(environ.get("TWILIO_ACCOUNT_SID") and environ.get("TWILIO_AUTH_TOKEN"))
    real_sendgrid = bool(environ.get("SENDGRID_API_KEY"))
    return ProviderChoice(
        real_openai=real_openai,
        real_twilio=real_twilio,
        real_sendgrid=real_sendgrid,
        secrets=ProviderSecrets(
            openai_api_key=environ["OPENAI_API_KEY"] if real_openai else sandbox.openai_api_key,
            twilio_account_sid=environ["TWILIO_ACCOUNT_SID"] if real_twilio else sandbox.twilio_account_sid,
            twilio_auth_token=environ["TWILIO_AUTH_TOKEN"] if real_twilio else sandbox.twilio_auth_token,
            sendgrid_api_key=environ["SENDGRID_API_KEY"] if real_sendgrid else sandbox.sendgrid_api_key,
        ),
    )


def without_credentials(environ: dict[str, str]) -> dict[str, str]:
    """The environment a function process inherits: provider credentials removed."""
    return {k: v for k, v in environ.items() if k not in REAL_CREDENTIAL_VARIABLES}
