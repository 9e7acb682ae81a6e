"""The local stack (``make local``): the whole engine on one machine, no AWS account.

Not deployed. It runs the real handlers against an AWS emulator (moto server) and provider
sandboxes that speak the OpenAI, Twilio and SendGrid HTTP APIs.
"""
