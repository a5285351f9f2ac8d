"""The only modules that talk to AWS. Each wraps one service behind names from this domain."""
