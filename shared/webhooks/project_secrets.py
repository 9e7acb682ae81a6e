"""Which secrets verify a provider's requests to one project's URL: the project's own credentials
secrets of every channel that provider serves (Twilio: WhatsApp and SMS; SendGrid: email).

The project may be inactive, and a channel no longer allowed: events about messages sent before
must still be recorded. A record naming another tenant's secret is refused before anything is read
(``ChannelConfigBase.credentials_problem``, the rule the router and processors apply).
"""

from __future__ import annotations

from shared.api_errors import CompanyNotFound, ConfigurationError, DatabaseError
from shared.channels import ALL_CHANNELS
from shared.events.envelope import Provider
from shared.log_masking import describe_error
from shared.routing.company_directory import CompanyDirectory, company_record
from shared.webhooks.refusals import DependencyUnavailable, ProjectRefused


class ProjectSecrets:
    def __init__(self, directory: CompanyDirectory, environment: str):
        self._directory = directory
        self._environment = environment

    def for_provider(self, company_id: str, project_id: str, provider: Provider) -> tuple[str, ...]:
        """The secret ids, one per configured channel of ``provider``; ``ProjectRefused`` when none."""
        try:
            record = company_record(self._directory.load(company_id, project_id))
        except CompanyNotFound:
            raise ProjectRefused("no such project") from None
        except ConfigurationError as error:
            raise ProjectRefused(
                f"the project's record is invalid: {describe_error(error.__cause__ or error)}"
            ) from None
        except DatabaseError as error:
            raise DependencyUnavailable(
                f"the company table failed: {describe_error(error.__cause__ or error)}"
            ) from None
        configs = [
            config
            for channel in ALL_CHANNELS
            if (config := record.channel_config.for_channel(channel)) is not None and config.provider == provider
        ]
        if not configs:
            raise ProjectRefused(f"the project configures no {provider} channel")
        problems = [
            p for config in configs if (p := config.credentials_problem(company_id, project_id, self._environment))
        ]
        if problems:
            raise ProjectRefused("; ".join(problems))
        return tuple(config.credentials_secret_id for config in configs)
