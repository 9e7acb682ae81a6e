from shared.channels import Channel
from shared.identifiers import conversation_id
from shared.log_masking import mask_address, mask_email, mask_phone, mask_text

REQUEST_ID = "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"


def test_conversation_id_uses_the_company_number_without_plus_on_phone_channels():
    for channel in (Channel.WHATSAPP, Channel.SMS):
        assert (
            conversation_id(
                company_id="ci-demo-001", project_id="pi-demo-001", request_id=REQUEST_ID,
                channel=channel, sender="+447700900001",
            )
            == f"ci-demo-001#pi-demo-001#{REQUEST_ID}#447700900001"
        )  # fmt: skip


def test_conversation_id_uses_the_company_email_on_the_email_channel():
    assert (
        conversation_id(
            company_id="c", project_id="p", request_id=REQUEST_ID,
            channel=Channel.EMAIL, sender="Talent@Cucumber.example",
        )
        == f"c#p#{REQUEST_ID}#talent@cucumber.example"
    )  # fmt: skip


def test_masks_keep_enough_to_correlate_and_not_enough_to_contact():
    assert mask_phone("+447700900123") == "+44********23"
    assert mask_email("alex.morgan@example.com") == "a***@e***.com"
    assert mask_address("alex.morgan@example.com") == "a***@e***.com"
    masked = mask_text("Invalid 'To' +447700900123 for alex.morgan@example.com")
    assert "7700900123" not in masked and "alex.morgan" not in masked


def test_masking_free_text_leaves_dates_and_ids_readable():
    text = "Assistants API shut down on 2026-08-26; request 3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
    assert mask_text(text) == text
    assert "7700900123" not in mask_text("sender 447700900123 refused")


def test_internationalised_email_addresses_are_masked_in_free_text():
    for address in ("jösé.müller@exämple.com", "用户@例子.广告", "ÉLODIE@société.fr", "o'brien+jobs@bücher.example"):
        masked = mask_text(f"SendGrid refused {address} (invalid)")
        local, _, domain = address.partition("@")
        assert local not in masked and domain.rpartition(".")[0] not in masked, masked
        assert masked.startswith("SendGrid refused ") and masked.endswith(" (invalid)")
    assert mask_text("to jösé.müller@exämple.com") == "to j***@e***.com"
