"""Adapters: the AWS services, the Anthropic API and event shapes behind the ports."""
