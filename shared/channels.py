"""The channels the engine can open a conversation on."""

from enum import StrEnum


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    SMS = "sms"
    EMAIL = "email"

    @property
    def uses_phone_number(self) -> bool:
        return self in (Channel.WHATSAPP, Channel.SMS)


ALL_CHANNELS: tuple[Channel, ...] = tuple(Channel)
