"""Custom Rasa NLU components (registered by their module path in config.yml)."""
