"""Domain: pure rules and records. Imports nothing from AWS or the Anthropic SDK."""
