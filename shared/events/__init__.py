"""Provider events: what Twilio and SendGrid tell the engine after a send (delivery status now;
inbound messages and opt-outs later). Every event enters through the verified webhook ingress
(``shared.webhooks``), travels on the one events queue as a ``ProviderEvent`` and is applied by
the events processor."""
